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

report_dir="target/api-conformance/${AGENTID_LOCAL_SERVER:-local}"
mkdir -p "${report_dir}"
cargo build --quiet -p agentid-local
source infra/local_gateway.sh
start_local_gateway target/debug/agentid-local "agentid-conformance-$$" "${report_dir}/gateway.log"
api PUT /v1/users/govind "${admin}" '{"email": "govind@example.com", "scopes": ["repo:read"]}' >/dev/null
agent_secret="$(api POST /v1/agents "${admin}" '{"name": "conformance", "ownerUserId": "govind"}' | json_field '["credential"]["secret"]')"

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
run() {
  local name="$1" token="$2"
  shift 2
  echo "-- schemathesis: ${name}"
  "${venv}/bin/schemathesis" run docs/openapi.yaml --url "${base}" \
    --header "Authorization: Bearer ${token}" \
    --checks "${checks}" --phases examples,coverage,fuzzing \
    --max-examples 25 --seed 20261203 --workers 1 --no-color --request-timeout 30 \
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
