#!/usr/bin/env python3
"""After the test suite: no secret at rest, none in the logs, no hash in a response.

    secret_scan.py DIR

DIR holds what the test harness recorded with AGENTID_SECRET_SCAN_DIR set: every exchange with
the API (request body, status, response body) and the product's logs. This script

  1. collects the secrets of the run: every `secret` the API returned, every string in any
     response shaped like an agentid token, and every `legacySecret` an accepted request
     handed in;
  2. scans every table on the local server (AWS_ENDPOINT_URL_DYNAMODB) and every log line for
     them;
  3. collects every stored credential hash (`secretHash`) and scans every response for them.

It fails if anything is found, or if there was nothing to check; first it plants one leak of
each kind in a table of its own and fails unless it finds all three. Run it while the server the
suite used is still up (infra/test.sh does).
"""

import json
import os
import re
import sys
from pathlib import Path

import boto3

TOKEN = re.compile(r"agid_(?:ag|sa)_[A-Za-z0-9_-]{64}_[A-Za-z0-9_-]{6}")
HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
LEGACY = re.compile(r"[!-~]{16,512}")
SELF_TEST = "secret-scan-self-test-"


def walk(value, key=None):
    """Every (key, string) pair in a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, key)
    elif isinstance(value, str):
        yield key, value


def parse(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def collect(directory):
    issued, legacy, responses = set(), set(), []
    for path in sorted(directory.glob("*.exchanges.jsonl")):
        # Split on newlines only: JSON leaves U+2028 and friends unescaped.
        for line in path.read_text(encoding="utf-8").split("\n"):
            if not line:
                continue
            exchange = json.loads(line)
            response = exchange["response"]
            responses.append(response)
            issued.update(TOKEN.findall(response))
            body = parse(response)
            for key, value in walk(body):
                if key == "secret":
                    issued.add(value)
            if 200 <= exchange["status"] < 300:
                for key, value in walk(parse(exchange["request"])):
                    if key == "legacySecret" and LEGACY.fullmatch(value):
                        legacy.add(value)
    return issued, legacy, responses


def tables_text(client, only=None):
    """(table, item count, text of every item) for every table on the server (or `only`)."""
    names = []
    for page in client.get_paginator("list_tables").paginate():
        names.extend(page["TableNames"])
    for name in names:
        if (only is None and name.startswith(SELF_TEST)) or (only and name != only):
            continue
        items = []
        for page in client.get_paginator("scan").paginate(TableName=name):
            items.extend(page["Items"])
        yield name, len(items), "\n".join(json.dumps(i, sort_keys=True) for i in items)


def redact(secret):
    return secret[:10] + "..."


def leaks(where, text, legacy):
    """Every token-shaped string in `text` (none may be at rest or logged), and every legacy
    secret of the run found in it."""
    found = [f"{where}: token {redact(token)}" for token in set(TOKEN.findall(text))]
    found += [f"{where}: legacy secret {redact(secret)}" for secret in legacy if secret in text]
    return found


def scan(client, directory, only=None):
    """(hits, summary) of the scan of DIR's records against the server's tables."""
    issued, legacy, responses = collect(directory)
    hits = []
    hashes = set()
    table_count = item_count = table_bytes = 0
    for name, count, text in tables_text(client, only):
        table_count += 1
        item_count += count
        table_bytes += len(text)
        hits.extend(leaks(f"table {name}", text, legacy))
        for item in text.split("\n") if text else []:
            stored = json.loads(item).get("secretHash", {}).get("S")
            if stored:
                hashes.add(stored)

    log_lines = log_bytes = 0
    for path in sorted(directory.glob("*.log")):
        text = path.read_text(encoding="utf-8", errors="replace")
        log_lines += text.count("\n")
        log_bytes += len(text)
        hits.extend(leaks(f"log {path.name}", text, legacy))

    for response in responses:
        for candidate in HEX64.findall(response):
            if candidate in hashes:
                hits.append(f"response: credential hash {candidate[:10]}...")

    summary = (
        f"{len(issued)} issued and {len(legacy)} legacy secrets against "
        f"{table_count} tables ({item_count} items, {table_bytes / 1e6:.1f} MB) and "
        f"{log_lines} log lines ({log_bytes / 1e6:.1f} MB); {len(hashes)} credential hashes "
        f"against {len(responses)} responses"
    )
    checked = bool(issued | legacy) and table_count and hashes and responses
    return hits, summary, checked


def self_test(client):
    """The scan finds a planted token in a table, a legacy secret in a log and a hash in a
    response; a scan that cannot fail proves nothing."""
    import tempfile
    import uuid

    table = SELF_TEST + uuid.uuid4().hex
    token = "agid_ag_" + "A" * 64 + "_" + "B" * 6
    legacy = "sk_legacy_planted_" + uuid.uuid4().hex
    stored_hash = uuid.uuid4().hex * 2
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        client.put_item(
            TableName=table,
            Item={"PK": {"S": "x"}, "note": {"S": "leaked " + token}, "secretHash": {"S": stored_hash}},
        )
        with tempfile.TemporaryDirectory() as tmp:
            exchange = {
                "request": json.dumps({"legacySecret": legacy}),
                "status": 201,
                "response": json.dumps({"credential": {"secret": token}, "leak": stored_hash}),
            }
            Path(tmp, "planted.exchanges.jsonl").write_text(json.dumps(exchange) + "\n")
            Path(tmp, "planted.log").write_text(json.dumps({"msg": "using " + legacy}) + "\n")
            hits, _, _ = scan(client, Path(tmp), only=table)
    finally:
        client.delete_table(TableName=table)
    if len(hits) != 3:
        sys.exit(f"secret scan self-test: expected 3 planted hits, found {hits}")
    print(f"secret scan self-test: the 3 planted leaks were found ({'; '.join(sorted(hits))})")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    client = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    self_test(client)
    hits, summary, checked = scan(client, Path(sys.argv[1]))
    print(f"secret scan: {summary}: {len(hits)} hits")
    if not checked:
        sys.exit("secret scan: nothing to check (was AGENTID_SECRET_SCAN_DIR set for the suite?)")
    if hits:
        for hit in hits[:50]:
            print("  " + hit)
        sys.exit(1)


if __name__ == "__main__":
    main()
