"""`oh-builder verify` for OpenHands V1 agent-server images.

The image is started the way OpenHands' sandbox service starts it (its ENTRYPOINT kept,
command ``--port 8000``, working directory /workspace/project, a session key and the
state paths in ``OH_*`` variables) and checked through the agent-server's HTTP API.
The e2e suite drives the same images with OpenHands' own SDK (tests/e2e/v1_client.py).
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request

from builder.checks import Check, Target, base_checks, expect, wait_until

WORKDIR = "/workspace/project"
CHECKS = ("alive", "ready", "auth", "bash", "files", "base programs", "environment")


def new_key() -> str:
    return secrets.token_hex(16)


class V1Api:
    def __init__(self, port: int, key: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.key = key

    def request(
        self,
        path: str,
        *,
        data: bytes | None = None,
        content_type: str = "application/json",
        auth: bool = True,
        timeout: float = 120,
    ) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type} if data is not None else {}
        if auth:
            headers["X-Session-API-Key"] = self.key
        req = urllib.request.Request(
            self.base + path, data=data, headers=headers, method="POST" if data else "GET"
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def sh(self, command: str, timeout: float = 60) -> tuple[int, str]:
        """exit code, stdout + stderr of one command run by the server's bash service."""
        body = json.dumps({"command": command, "cwd": WORKDIR, "timeout": int(timeout)})
        status, raw = self.request(
            "/api/bash/execute_bash_command", data=body.encode(), timeout=timeout + 30
        )
        if status != 200:
            raise AssertionError(f"execute_bash_command: HTTP {status}: {raw[:200]!r}")
        r = json.loads(raw)
        return int(r["exit_code"]), (r.get("stdout") or "") + (r.get("stderr") or "")


def wait_for(api: V1Api, path: str, timeout: float) -> float:
    return wait_until(lambda: api.request(path, auth=False, timeout=2)[0] == 200, timeout,
                      f"{path} did not answer 200")  # fmt: skip


def check_auth(api: V1Api) -> str:
    body = json.dumps({"command": "true"}).encode()
    status, _ = api.request("/api/bash/execute_bash_command", data=body, auth=False)
    expect(status == 401, f"a request without X-Session-API-Key got HTTP {status}, not 401")
    return "a request without the session key gets 401"


def check_bash(api: V1Api) -> str:
    # Octal escapes: the server runs commands with /bin/sh (dash on Debian: no \\x).
    code, out = api.sh("printf 'h\\303\\251llo \\342\\230\\203\\n'; pwd; id -u; exit 3")
    want = f"héllo ☃\n{WORKDIR}\n1000\n"
    expect(code == 3 and out == want, f"got exit {code}, output {out!r}; want 3, {want!r}")
    return "exit code and UTF-8 output exact; runs as uid 1000 in /workspace/project"


def check_files(api: V1Api) -> str:
    payload = bytes(range(256)) * 16
    boundary = secrets.token_hex(8)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="v.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    path = f"{WORKDIR}/.oh-verify.bin"
    status, raw = api.request(
        f"/api/file/upload?path={path}",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    expect(status == 200, f"upload: HTTP {status}: {raw[:200]!r}")
    status, got = api.request(f"/api/file/download?path={path}")
    expect(status == 200 and got == payload, f"download: HTTP {status}, {len(got)} bytes")
    api.sh(f"rm -f {path}")
    return f"{len(payload)} bytes uploaded and downloaded unchanged"


GATES = 2  # the first GATES checks stop the run when they fail


def checks(t: Target) -> list[Check]:
    """The agent-server's checks; ``base programs`` and ``environment`` as for V0."""
    api = V1Api(t.port, t.key)
    return [
        ("alive", lambda: f"answered {wait_for(api, '/alive', t.alive_timeout):.2f} s"),
        ("ready", lambda: f"ready {wait_for(api, '/ready', t.alive_timeout):.2f} s later"),
        ("auth", lambda: check_auth(api)),
        ("bash", lambda: check_bash(api)),
        ("files", lambda: check_files(api)),
        *base_checks(api, t),
    ]
