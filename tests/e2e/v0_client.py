"""OpenHands V0's own client code against an action execution server: run by the image's
own Python (openhands-ai 1.6.0's source is /openhands/code, its packages the venv) in a
container sharing the server's network namespace.

``v0_client.py command``: print DockerRuntime's exact startup command (JSON), from
openhands-ai's own ``get_action_execution_server_startup_command`` with the defaults a
DockerRuntime has (plugins agent_skills + jupyter, run as openhands, browser off).

``v0_client.py drive URL KEY TIMEOUT``: ``ActionExecutionClient`` (the class DockerRuntime
and RemoteRuntime extend) waits for the server, then runs ``CmdRunAction``,
``FileWriteAction``/``FileReadAction``, ``list_files``, an upload (``copy_to``) and a
download (``copy_from``); prints one JSON line of what it saw.

``v0_client.py command browser`` and ``v0_client.py drive URL KEY TIMEOUT browser``: the
same with the browser enabled (OpenHands' default: no ``--no-enable-browser``), and then
a ``BrowseURLAction`` of a page served inside the container, which holds a token.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import time
import zipfile

import httpx
from openhands.core.config import OpenHandsConfig
from openhands.events import EventStream
from openhands.events.action import (
    BrowseURLAction,
    CmdRunAction,
    FileReadAction,
    FileWriteAction,
)
from openhands.llm.llm_registry import LLMRegistry
from openhands.runtime.impl.action_execution.action_execution_client import (
    ActionExecutionClient,
)
from openhands.runtime.plugins import AgentSkillsRequirement, JupyterRequirement
from openhands.runtime.utils.command import get_action_execution_server_startup_command
from openhands.storage import get_file_store

BROWSER = False  # set by the browser modes
AS_ROOT = False  # `command root`: OpenHands' run_as_openhands = false


def config() -> OpenHandsConfig:
    cfg = OpenHandsConfig()
    cfg.enable_browser = BROWSER
    cfg.run_as_openhands = not AS_ROOT
    return cfg


def command() -> list[str]:
    return get_action_execution_server_startup_command(
        server_port=8000,
        plugins=[AgentSkillsRequirement(), JupyterRequirement()],
        app_config=config(),
    )


class Client(ActionExecutionClient):
    """ActionExecutionClient at a fixed URL (DockerRuntime computes it from its ports)."""

    def __init__(self, url: str, key: str, workdir: str) -> None:
        self._url = url
        cfg = config()
        store = get_file_store("local", tempfile.mkdtemp())
        super().__init__(cfg, EventStream("e2e", store), LLMRegistry(cfg), sid="e2e")
        self.session.headers["X-Session-API-Key"] = key
        self.workdir = workdir

    @property
    def action_execution_server_url(self) -> str:
        return self._url

    async def connect(self) -> None:  # the container is started by the test
        return None


def wait_ready(url: str, key: str, timeout: float) -> float:
    """Seconds until /alive says ``ok`` (``not initialized`` while the server sets up its
    user, bash session and plugins)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            r = httpx.get(f"{url}/alive", timeout=5)
            if r.status_code == 200 and r.json().get("status") == "ok":
                return time.monotonic() - t0
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url}/alive did not answer within {timeout} s")


def drive(url: str, key: str, timeout: float) -> dict[str, object]:
    out: dict[str, object] = {"alive_after_s": round(wait_ready(url, key, timeout), 1)}
    out["unauthenticated_status"] = httpx.post(
        f"{url}/execute_action", json={"action": {}}, timeout=10
    ).status_code
    client = Client(url, key, "/workspace")
    client.check_if_alive()
    # (exit 3) in a subshell: a bare `exit` would end the agent's one shell.
    run = CmdRunAction(command="cd /workspace && echo out; echo err >&2; id -u; pwd; (exit 3)")
    run.set_hard_timeout(120)
    obs = client.run_action(run)
    out["cmd"] = {
        "type": type(obs).__name__,
        "exit_code": getattr(obs, "exit_code", None),
        "content": getattr(obs, "content", ""),
    }
    write = FileWriteAction(path="/workspace/v0-note.txt", content="written by V0's client\n")
    write.set_hard_timeout(60)
    out["write"] = type(client.run_action(write)).__name__
    read = FileReadAction(path="/workspace/v0-note.txt")
    read.set_hard_timeout(60)
    robs = client.run_action(read)
    out["read"] = {"type": type(robs).__name__, "content": getattr(robs, "content", "")}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "uploaded.txt")
        with open(src, "w") as f:
            f.write("uploaded by V0's client\n")
        client.copy_to(src, "/workspace/up")
        out["list_files"] = sorted(client.list_files("/workspace"))
        out["list_up"] = sorted(client.list_files("/workspace/up"))
        zpath = client.copy_from("/workspace/up")
        with zipfile.ZipFile(zpath) as z:
            out["download"] = {n: z.read(n).decode() for n in z.namelist()}
    check = CmdRunAction(command="cat /workspace/up/uploaded.txt")
    check.set_hard_timeout(60)
    out["uploaded_seen_by_shell"] = getattr(client.run_action(check), "content", "")
    # The agent's shell's environment: the image's own, never the bundle's.
    env = CmdRunAction(command="env")
    env.set_hard_timeout(60)
    lines = str(getattr(client.run_action(env), "content", "")).splitlines()
    out["env"] = dict(
        line.partition("=")[::2] for line in lines if "=" in line and line[:1].isalpha()
    )
    if BROWSER:
        out["browse"] = browse(client)
    client.close()
    return out


def browse(client: Client) -> dict[str, object]:
    out: dict[str, object] = {}
    token = secrets.token_hex(12)
    page = f"<html><head><title>oh v0 page</title></head><body><p>token {token}</p></body></html>"
    serve = CmdRunAction(
        command=f"mkdir -p /workspace/site && printf '%s' \"{page}\" > /workspace/site/index.html"
        " && (cd /workspace/site && /openhands/bin/oh-python -m http.server 8766"
        " --bind 127.0.0.1"
        " >/dev/null 2>&1 &) && sleep 1"
    )
    serve.set_hard_timeout(60)
    served = client.run_action(serve)
    out["serve"] = str(getattr(served, "content", ""))[-1000:]
    # This client shares the server's network: wait until the page answers.
    for _ in range(100):
        try:
            if httpx.get("http://127.0.0.1:8766/", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    action = BrowseURLAction(url="http://127.0.0.1:8766/")
    action.set_hard_timeout(300)
    obs = client.run_action(action)
    out["token"] = token
    out["type"] = type(obs).__name__
    out["content"] = str(getattr(obs, "content", ""))[:4000]
    out["error"] = bool(getattr(obs, "error", False))
    out["screenshot_chars"] = len(getattr(obs, "screenshot", "") or "")
    out["axtree_chars"] = len(str(getattr(obs, "axtree_object", "") or ""))
    return out


if __name__ == "__main__":
    BROWSER = "browser" in sys.argv[2:]
    AS_ROOT = "root" in sys.argv[2:]
    if sys.argv[1] == "command":
        print(json.dumps(command()))
    else:
        url, key, timeout = sys.argv[2:5]
        print(json.dumps(drive(url, key, float(timeout))))
