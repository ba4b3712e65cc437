# Sourced by scripts that drive the local gateway over the DynamoDB-compatible server named by
# AWS_ENDPOINT_URL_DYNAMODB (run them through infra/localddb.py run <server> -- ...).

# start_local_gateway BINARY TABLE LOG: starts the gateway on a free loopback port with a
# fresh state directory, logging to LOG, and waits until it answers. Sets `base` (its URL) and
# `admin` (an administrator's dev JWT). The gateway is stopped when the script exits.
start_local_gateway() {
  local binary="$1" table="$2" log="$3" port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  base="http://127.0.0.1:${port}"
  gateway_state="$(mktemp -d)"
  "${binary}" --port "${port}" --table "${table}" --sweep-every 0 \
    --state-dir "${gateway_state}" > "${log}" 2>&1 &
  gateway_pid=$!
  trap 'kill "${gateway_pid}" 2>/dev/null || true; rm -rf "${gateway_state}"' EXIT
  for _ in $(seq 1 100); do
    curl -fsS "${base}/_local/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  admin="$(api POST /_local/token '' '{"sub": "local-admin", "admin": true}' | json_field '["token"]')"
}

# api METHOD PATH TOKEN BODY: one JSON request to the gateway; fails on an HTTP error.
api() {
  curl -fsS -X "$1" "${base}$2" -H 'content-type: application/json' \
    ${3:+-H "authorization: Bearer $3"} -d "$4"
}

# json_field EXPR: the field EXPR (e.g. '["credential"]["secret"]') of the JSON on stdin.
json_field() {
  python3 -c "import json, sys; print(json.load(sys.stdin)$1)"
}
