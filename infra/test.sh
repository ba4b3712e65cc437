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

python3 infra/localddb.py ensure
cargo nextest run --workspace --no-run

for server in ${AGENTID_SERVERS:-ministack moto}; do
  echo "== test suite against ${server}"
  python3 infra/localddb.py run "${server}" -- cargo nextest run --workspace --no-fail-fast
done
echo "== all checks passed"
