#!/usr/bin/env bash
# The HTTP API against its published contract: schemathesis generates requests from
# docs/openapi.yaml and sends them to the local gateway (over a local DynamoDB-compatible
# server); it fails on any server error or any response that does not conform to the spec
# (status code, content type, body schema). Bounded: a fixed seed and a fixed number of
# examples per operation. Run inside `infra/localddb.py run <server> -- ...` (infra/test.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AWS_ENDPOINT_URL_DYNAMODB:?run through infra/localddb.py run <server> -- $0}"

source infra/venv.sh
venv=.venv-api
ensure_venv "${venv}" infra/requirements-api.txt

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:${port}"
state="$(mktemp -d)"
report_dir="target/api-conformance/${AGENTID_LOCAL_SERVER:-local}"
mkdir -p "${report_dir}"
cargo build --quiet -p agentid-local
target/debug/agentid-local --port "${port}" --table "agentid-conformance-$$" --sweep-every 0 \
  --state-dir "${state}" > "${report_dir}/gateway.log" 2>&1 &
gateway=$!
trap 'kill "${gateway}" 2>/dev/null || true; rm -rf "${state}"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "${base}/_local/health" >/dev/null 2>&1 && break
  sleep 0.2
done

post() { curl -fsS -X "$1" "${base}$2" -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$4"; }
field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
admin="$(post POST /_local/token '' '{"sub": "conformance-admin", "admin": true}' | field '["token"]')"
post PUT /v1/users/govind "${admin}" '{"email": "govind@example.com", "scopes": ["repo:read"]}' >/dev/null
agent_secret="$(post POST /v1/agents "${admin}" '{"name": "conformance", "ownerUserId": "govind"}' | field '["credential"]["secret"]')"

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
run() {
  local name="$1" token="$2"
  shift 2
  echo "-- schemathesis: ${name}"
  "${venv}/bin/schemathesis" run docs/openapi.yaml --url "${base}" \
    --header "Authorization: Bearer ${token}" \
    --checks "${checks}" --phases examples,coverage,fuzzing \
    --max-examples 25 --seed 20261203 --workers 1 --no-color \
    --generation-database none --output-sanitize true \
    --report junit --report-junit-path "${report_dir}/${name}.xml" "$@"
}
# Every operation with an administrator's JWT (the audit POSTs then meet the authorizer's
# 403); the audit routes again with an agent credential, which is what recording takes.
run admin "${admin}"
run agent "${agent_secret}" --include-path-regex '^/v1/audit-events'
echo "-- schemathesis: every operation conforms"
"${venv}/bin/python" infra/api_examples.py "${base}" "${admin}"
if grep -qF -- "${agent_secret}" "${report_dir}/gateway.log"; then
  echo "the gateway's log contains an issued secret" >&2
  exit 1
fi
