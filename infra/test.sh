#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test against each local
# DynamoDB-compatible server in turn (ministack, then moto). Fails if any step fails.
#
#   infra/test.sh                       everything
#   AGENTID_SERVERS=moto infra/test.sh  one server only
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "== template.yaml: cfn-lint and sam validate --lint"
source infra/venv.sh
lint_venv=.venv-lint
ensure_venv "${lint_venv}" infra/requirements-lint.txt
"${lint_venv}/bin/cfn-lint" template.yaml
SAM_CLI_TELEMETRY=0 "${lint_venv}/bin/sam" validate --lint --template template.yaml --region us-east-1

python3 infra/localddb.py ensure
cargo nextest run --workspace --no-run

for server in ${AGENTID_SERVERS:-ministack moto}; do
  echo "== test suite against ${server}, the secret scan of its tables and logs, the API against docs/openapi.yaml"
  # The harness records every API exchange and the product's logs here; the scan reads them
  # while the server still holds every test's table, then they are deleted.
  scan_dir="${PWD}/target/secret-scan/${server}"
  rm -rf "${scan_dir}"
  AGENTID_SECRET_SCAN_DIR="${scan_dir}" python3 infra/localddb.py run "${server}" -- \
    bash -c 'cargo nextest run --workspace --no-fail-fast \
      && .venv/bin/python infra/secret_scan.py "${AGENTID_SECRET_SCAN_DIR}"'
  rm -rf "${scan_dir}"
  # On a fresh server: the suite leaves the last one holding every test's table.
  python3 infra/localddb.py run "${server}" -- bash infra/api_conformance.sh
done
echo "== all checks passed"
