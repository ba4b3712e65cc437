#!/usr/bin/env python3
"""Local DynamoDB-compatible servers for development and the test suite.

Two open-source servers are supported, both pinned in infra/requirements.txt and installed into
the project-local virtualenv `.venv` on first use:

  ministack  (default)  MIT, closest to DynamoDB's behaviour (transactions, tokens, streams, TTL)
  moto                  Apache-2.0, mature; run one request at a time (infra/moto_serial.py);
                        see docs/local-servers.md for its known differences

Usage:
  infra/localddb.py ensure                  create .venv and install the pinned servers
  infra/localddb.py run SERVER -- CMD...    start SERVER on a free 127.0.0.1 port, run CMD with
                                            AWS_ENDPOINT_URL_DYNAMODB pointing at it, stop SERVER
  infra/localddb.py start SERVER PIDFILE    start SERVER in the background; prints its endpoint
  infra/localddb.py stop PIDFILE            stop a server started with `start`

The server always runs in its own process group and is stopped by pid when CMD ends, however it
ends (exit, failure, Ctrl-C): nothing is left running.
"""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "infra" / "requirements.txt"
STAMP = VENV / ".requirements.sha256"
SERVERS = ("ministack", "moto")
READY_TIMEOUT_S = 60

# Credentials and region for local servers only; they accept any.
LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def log(message):
    print(f"localddb: {message}", file=sys.stderr, flush=True)


def ensure_venv():
    """Creates .venv and installs the pinned servers unless they are already installed."""
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == want:
        return
    if not (VENV / "bin" / "python").exists():
        log(f"creating virtualenv {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    log("installing pinned servers from infra/requirements.txt")
    subprocess.run(
        [str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         "-r", str(REQUIREMENTS)],
        check=True,
    )
    STAMP.write_text(want + "\n")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(server, port):
    bin_dir = VENV / "bin"
    env = dict(os.environ)
    env.update(LOCAL_ENV)
    if server == "ministack":
        env.update({
            "GATEWAY_PORT": str(port),
            "BIND_HOST": "127.0.0.1",
            "SERVICES": "dynamodb,dynamodbstreams",
        })
        return [str(bin_dir / "ministack")], env
    if server == "moto":
        # moto_server itself, serving one request at a time (see infra/moto_serial.py).
        serial = ROOT / "infra" / "moto_serial.py"
        return [str(bin_dir / "python"), str(serial), "-H", "127.0.0.1", "-p", str(port)], env
    raise SystemExit(f"localddb: unknown server {server!r}; choose one of {', '.join(SERVERS)}")


def answers(endpoint):
    """True once the server answers a DynamoDB ListTables call."""
    request = urllib.request.Request(
        endpoint + "/",
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            # Local servers route on the credential scope and do not check the signature.
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/"
                             "aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200 and "TableNames" in json.loads(response.read() or b"{}")
    except (urllib.error.URLError, ConnectionError, OSError, ValueError):
        return False


def start(server, log_path=None):
    """Starts `server`; returns (process, endpoint) once it answers."""
    ensure_venv()
    port = free_port()
    command, env = server_command(server, port)
    endpoint = f"http://127.0.0.1:{port}"
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"localddb: {server} exited with {process.returncode} before answering")
        if answers(endpoint):
            log(f"{server} (pid {process.pid}) answering at {endpoint}")
            return process, endpoint
        time.sleep(0.2)
    stop_pid(process.pid)
    raise SystemExit(f"localddb: {server} did not answer within {READY_TIMEOUT_S}s")


def stop_pid(pid):
    """Stops the process group of `pid`: politely, then firmly."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(server, command):
    if not command:
        raise SystemExit("localddb: run needs a command after --")
    log_path = ROOT / "target" / f"localddb-{server}.log"
    log_path.parent.mkdir(exist_ok=True)
    process, endpoint = start(server, log_path)
    env = dict(os.environ)
    env.update(LOCAL_ENV)
    env["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    env["AGENTID_LOCAL_SERVER"] = server
    env["AGENTID_LOCAL_SERVER_PID"] = str(process.pid)
    child = None

    def forward(signum, _frame):
        if child and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        child = subprocess.Popen(command, env=env)
        return child.wait()
    finally:
        stop_pid(process.pid)
        log(f"{server} (pid {process.pid}) stopped")


def main(argv):
    if len(argv) >= 1 and argv[0] == "ensure":
        ensure_venv()
        return 0
    if len(argv) >= 2 and argv[0] == "run":
        rest = argv[2:]
        if rest and rest[0] == "--":
            rest = rest[1:]
        return run(argv[1], rest)
    if len(argv) == 3 and argv[0] == "start":
        process, endpoint = start(argv[1])
        Path(argv[2]).write_text(f"{process.pid}\n")
        print(endpoint)
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        stop_pid(int(Path(argv[1]).read_text().strip()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
