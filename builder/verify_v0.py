"""`oh-builder verify` for OpenHands V0 action execution server images (openhands-v0).

The image runs its own command (tini -- oh-action-execution-server 8000 /workspace: as
root, the agent's shell as ``openhands`` through su, as DockerRuntime runs it) with a
session key, and is checked through V0's HTTP API: ``POST /execute_action`` with
serialized actions, as ``ActionExecutionClient`` sends them. The e2e suite drives the
same images with that client itself (tests/e2e/v0_client.py).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from builder.verify_v1 import _expect

CHECKS = ("alive", "auth", "bash", "files", "base programs", "environment")


def is_v0(image_env: dict[str, str]) -> bool:
    """The openhands-v0 runtime template sets the seed's MAMBA_ROOT_PREFIX."""
    return image_env.get("MAMBA_ROOT_PREFIX") == "/openhands/micromamba"


def start_options(key: str) -> dict[str, Any]:
    return {"env": {"SESSION_API_KEY": key}}


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
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            status, body = api.request("/alive", auth=False, timeout=2)
            if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
                return time.monotonic() - start
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"/alive did not say ok within {timeout:.0f} s")


def check_auth(api: V0Api) -> str:
    status, _ = api.request("/execute_action", {"action": {}}, auth=False)
    _expect(status == 403, f"a request without X-Session-API-Key got HTTP {status}, not 403")
    return "a request without the session key gets 403"


def check_bash(api: V0Api) -> str:
    # An ASCII command (octal escapes) with UTF-8 output: V0 strips the command's echo by
    # its text, and a shell without a UTF-8 locale (the no-shell base) echoes non-ASCII
    # input as escapes, which then stayed in the output.
    code, out = api.sh(
        "cd /workspace && printf 'h\\303\\251llo \\342\\230\\203\\n'; id -u; pwd; (exit 3)"
    )
    want = "héllo ☃\n1000\n/workspace\n"
    _expect(code == 3 and out == want, f"got exit {code}, output {out!r}; want 3, {want!r}")
    api.sh("cd /tmp && export OH_VERIFY=persisted")
    code, out = api.sh('pwd; echo "$OH_VERIFY"; cd /workspace')
    _expect(out == "/tmp\npersisted\n", f"state not kept: {out!r}")
    return "exit code and UTF-8 output exact; uid 1000; cd and export persist"


def check_files(api: V0Api) -> str:
    path = "/workspace/.oh-verify.txt"
    obs = api.action("write", path=path, content="written ✓\n")
    _expect(obs.get("observation") == "write", f"write: {str(obs)[:200]}")
    obs = api.action("read", path=path)
    got = str(obs.get("content", ""))
    _expect(got.rstrip("\n") == "written ✓", f"read back {got!r}")
    status, names = api.request("/list_files", {"path": "/workspace"})
    _expect(status == 200 and ".oh-verify.txt" in names, f"list_files: {status} {names!r}")
    code, out = api.sh(f"stat -c %u {path}; rm -f {path}")
    _expect(code == 0 and out.split()[:1] == ["1000"], f"owner: {out!r}")
    return "written, read back and listed in /workspace, owned by uid 1000"
