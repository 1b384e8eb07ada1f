"""`oh-builder verify` for OpenHands V0 action execution server images (openhands-v0).

The image runs its own command (tini -- oh-action-execution-server 8000 /workspace: as
root, the agent's shell as ``openhands`` through su, as DockerRuntime runs it) with a
session key, and is checked through V0's HTTP API: ``POST /execute_action`` with
serialized actions, as ``ActionExecutionClient`` sends them. The e2e suite drives the
same images with that client itself (tests/e2e/v0_client.py).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from builder.checks import Check, Target, base_checks, expect, wait_until

CHECKS = ("alive", "auth", "bash", "files", "base programs", "environment")


class V0Api:
    def __init__(self, port: int, key: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.key = key

    def request(
        self, path: str, body: Any = None, *, auth: bool = True, timeout: float = 120
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["X-Session-API-Key"] = self.key
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def action(self, action: str, timeout: float = 60, **args: Any) -> dict[str, Any]:
        """One action as ActionExecutionClient serializes it; the observation dict."""
        body = {"action": {"action": action, "args": args, "timeout": timeout}}
        status, obs = self.request("/execute_action", body, timeout=timeout + 30)
        if status != 200 or not isinstance(obs, dict):
            raise AssertionError(f"execute_action {action}: HTTP {status}: {str(obs)[:200]}")
        return obs

    def sh(self, command: str, timeout: float = 60) -> tuple[int, str]:
        """exit code and output of one command in the agent's shell (V0 strips the
        output's last newline; it is put back so that checks read as for V1)."""
        obs = self.action("run", timeout, command=command, blocking=True)
        code = obs.get("extras", {}).get("metadata", {}).get("exit_code", -1)
        out = str(obs.get("content", ""))
        return int(code), out + "\n" if out else out


def wait_alive(api: V0Api, timeout: float) -> float:
    """Seconds until /alive says ``ok`` (``not initialized`` during the server's setup)."""

    def ok() -> bool:
        status, body = api.request("/alive", auth=False, timeout=2)
        return status == 200 and isinstance(body, dict) and body.get("status") == "ok"

    return wait_until(ok, timeout, "/alive did not say ok")


def check_auth(api: V0Api) -> str:
    status, _ = api.request("/execute_action", {"action": {}}, auth=False)
    expect(status == 403, f"a request without X-Session-API-Key got HTTP {status}, not 403")
    return "a request without the session key gets 403"


def check_bash(api: V0Api) -> str:
    # An ASCII command (octal escapes) with UTF-8 output: V0 strips the command's echo by
    # its text, and a shell without a UTF-8 locale (the no-shell base) echoes non-ASCII
    # input as escapes, which then stayed in the output.
    code, out = api.sh(
        "cd /workspace && printf 'h\\303\\251llo \\342\\230\\203\\n'; id -u; pwd; (exit 3)"
    )
    want = "héllo ☃\n1000\n/workspace\n"
    expect(code == 3 and out == want, f"got exit {code}, output {out!r}; want 3, {want!r}")
    api.sh("cd /tmp && export OH_VERIFY=persisted")
    code, out = api.sh('pwd; echo "$OH_VERIFY"; cd /workspace')
    expect(out == "/tmp\npersisted\n", f"state not kept: {out!r}")
    return "exit code and UTF-8 output exact; uid 1000; cd and export persist"


def check_files(api: V0Api) -> str:
    path = "/workspace/.oh-verify.txt"
    obs = api.action("write", path=path, content="written ✓\n")
    expect(obs.get("observation") == "write", f"write: {str(obs)[:200]}")
    obs = api.action("read", path=path)
    got = str(obs.get("content", ""))
    expect(got.rstrip("\n") == "written ✓", f"read back {got!r}")
    status, names = api.request("/list_files", {"path": "/workspace"})
    expect(status == 200 and ".oh-verify.txt" in names, f"list_files: {status} {names!r}")
    code, out = api.sh(f"stat -c %u {path}; rm -f {path}")
    expect(code == 0 and out.split()[:1] == ["1000"], f"owner: {out!r}")
    return "written, read back and listed in /workspace, owned by uid 1000"


GATES = 1  # the first GATES checks stop the run when they fail


def checks(t: Target) -> list[Check]:
    """OpenHands V0's action execution server; ``base programs`` and ``environment`` as
    for the others."""
    api = V0Api(t.port, t.key)
    return [
        ("alive", lambda: f"answered ok {wait_alive(api, t.alive_timeout):.2f} s after start"),
        ("auth", lambda: check_auth(api)),
        ("bash", lambda: check_bash(api)),
        ("files", lambda: check_files(api)),
        *base_checks(api, t),
    ]
