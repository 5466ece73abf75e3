"""Schema fuzzing of the JSON API with schemathesis, run by `cargo xtask test`.

Starts the release binary on a free loopback port with a fresh data
directory, makes the first account (the administrator) with random key
material (the server checks shapes, never keys), and runs schemathesis
twice against /api/openapi.json: without a session, then with the
account's bearer token. Each run is bounded in time. A 5xx, a status the
document does not declare, or a body or content type that does not match
it fails the run.

Usage: python fuzz.py <nocturne binary> <schemathesis executable> [seconds per run]
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(base, path, body):
    req = urllib.request.Request(
        base + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def token(base):
    """Registers the first account and logs in; returns its bearer token."""
    b = lambda n: base64.b64encode(os.urandom(n)).decode()
    auth = b(32)
    post(base, "/api/auth/register", {
        "username": "fuzz", "salt": b(16), "argon2": {"m_kib": 19456, "t": 2, "p": 1},
        "auth_key": auth, "master_by_password": b(60), "master_by_recovery": b(60),
        "recovery_auth": b(32),
    })
    return post(base, "/api/auth/login", {"username": "fuzz", "auth_key": auth, "token": True})["token"]


def wait_healthy(base, server, deadline):
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"schema fuzz: the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("schema fuzz: the server did not answer /api/health within 30 s")


def main():
    binary, schemathesis = sys.argv[1], sys.argv[2]
    seconds = sys.argv[3] if len(sys.argv) > 3 else "60"
    data = tempfile.mkdtemp(prefix="nocturne-schema-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(data, "server.log"), "w")
    env = dict(os.environ, PORT=str(port), NOCTURNE_DATA_DIR=os.path.join(data, "data"),
               NOCTURNE_BIND="127.0.0.1")
    server = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    failed = []
    try:
        wait_healthy(base, server, time.monotonic() + 30)
        bearer = token(base)
        runs = [
            ("without a session", []),
            # Logging out would end the token's session for the rest of
            # the run.
            ("with a bearer token", ["-H", f"Authorization: Bearer {bearer}",
                                     "--exclude-path", "/api/auth/logout"]),
        ]
        for name, extra in runs:
            cmd = [schemathesis, "run", f"{base}/api/openapi.json", "--checks", CHECKS,
                   "--max-time", seconds, "--workers", "2", "--seed", "42",
                   "--request-timeout", "10", "--continue-on-failure", "--no-color", *extra]
            print(f"schema fuzz: {name}, {seconds} s", flush=True)
            started = time.monotonic()
            code = subprocess.call(cmd)
            print(f"schema fuzz: {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
            if code != 0:
                failed.append(name)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    if failed or server.returncode not in (0, -15):
        with open(os.path.join(data, "server.log")) as f:
            tail = f.read()[-6000:]
        print(f"--- server log (last 6 KB) ---\n{tail}", flush=True)
        raise SystemExit(f"schema fuzz failed: {', '.join(failed) or 'the server exited badly'}")
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
