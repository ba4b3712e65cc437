#!/usr/bin/env python3
"""Known-good requests against the local gateway, each response validated against the
operation's response schema in docs/openapi.yaml (generated requests rarely reach the 2xx
paths that need existing data; these do).

    api_examples.py BASE_URL ADMIN_JWT
"""

import json
import sys
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

import yaml
from jsonschema_rs import Draft202012Validator

SPEC = yaml.safe_load((Path(__file__).parent.parent / "docs" / "openapi.yaml").read_text())


def call(base, method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {token}")
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def schema_for(path_template, method, status):
    responses = SPEC["paths"][path_template][method.lower()]["responses"]
    response = responses.get(str(status), responses["default"])
    name = response["$ref"].rsplit("/", 1)[1]
    schema = SPEC["components"]["responses"][name]["content"]["application/json"]["schema"]
    # The whole spec as the root, so "#/components/..." references resolve.
    return Draft202012Validator({**SPEC, **schema})


def main():
    base, admin = sys.argv[1], sys.argv[2]
    owner = "examples-" + uuid.uuid4().hex[:8]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"
    checked = []

    def expect(status_wanted, method, template, path, token, body=None):
        status, response = call(base, method, path, token, body)
        if status != status_wanted:
            sys.exit(f"{method} {path}: {status} {response}")
        errors = list(schema_for(template, method, status).iter_errors(response))
        if errors:
            sys.exit(f"{method} {path} ({status}) does not conform: {errors[0].message}")
        checked.append(f"{method} {template} {status}")
        return response

    expect(200, "PUT", "/v1/users/{userId}", f"/v1/users/{owner}", admin,
           {"email": f"{owner}@example.com", "scopes": ["repo:read"]})
    created = expect(201, "POST", "/v1/agents", "/v1/agents", admin, {"name": "bot", "ownerUserId": owner})
    agent, secret = created["agent"]["agentId"], created["credential"]["secret"]
    expect(200, "GET", "/v1/agents/{agentId}", f"/v1/agents/{agent}", admin)
    expect(200, "GET", "/v1/agents", f"/v1/agents?ownerUserId={owner}&limit=1", admin)
    event = {"action": "deploy.start", "resource": "repo:acme/api", "outcome": "success",
             "requestId": "example-1", "occurredAt": now, "details": {"ticket": 7}}
    expect(201, "POST", "/v1/audit-events", "/v1/audit-events", secret, event)
    expect(200, "POST", "/v1/audit-events", "/v1/audit-events", secret, event)
    expect(201, "POST", "/v1/audit-events/batch", "/v1/audit-events/batch", secret,
           {"events": [{**event, "requestId": "example-2"}, {**event, "requestId": "example-3"}]})
    expect(200, "GET", "/v1/audit-events", f"/v1/audit-events?accountablePrincipalId={owner}&since=1d", admin)
    expect(200, "GET", "/v1/audit-events", f"/v1/audit-events?actorId={agent}&actorType=agent", admin)
    print(f"api examples: {len(checked)} responses conform ({'; '.join(checked)})")


if __name__ == "__main__":
    main()
