"""Drive an agent-server the way OpenHands does: with OpenHands' own client code.

Runs inside a second container that shares the server container's network namespace,
with the image's own Python (`oh-python`, which carries openhands-sdk at the locked
version): the SDK needs Python >= 3.12, and V1 runs the agent loop inside the server,
so the fake LLM served here must be reachable from the server (here: 127.0.0.1).

Usage: oh-python v1_client.py SERVER_URL API_KEY [READY_WAIT_S [browser|env]]
(prints one JSON object). With ``browser``: the agent loop uses openhands-tools' browser
toolset instead, on a page served inside the container; with ``env``: the environment
the agent's terminal and the workspace's command API see.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx

AGENT_FILE = "/workspace/project/agent-was-here.txt"


def text_of(content: Any) -> str:
    """A chat message's content as text (a string, or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


class FakeLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat-completions endpoint that follows a script: the Nth
    reply is ``script[N]``, N being the number of tool results in the conversation so
    far (default: one terminal tool call, then finish). The tool results it is sent are
    kept in ``results``, in order."""

    calls: ClassVar[list[int]] = []
    script: ClassVar[list[tuple[str, dict[str, Any]]]] = [
        ("terminal", {"command": f"echo agent-was-here > {AGENT_FILE}"}),
        ("finish", {"message": "done"}),
    ]
    results: ClassVar[list[str]] = []
    inspect: ClassVar[Any] = None  # run on the workspace before the conversation closes

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLLM.calls.append(1)
        tools = [text_of(m.get("content")) for m in body.get("messages", [])
                 if m.get("role") == "tool"]  # fmt: skip
        FakeLLM.results[:] = tools
        name, args = FakeLLM.script[min(len(tools), len(FakeLLM.script) - 1)]
        args = {**args, "security_risk": "LOW"}
        reply = {
            "id": f"chatcmpl-{len(FakeLLM.calls)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": f"call_{len(FakeLLM.calls)}",
                                "type": "function",
                                "function": {"name": name, "arguments": json.dumps(args)},
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def workspace_checks(url: str, key: str) -> dict[str, Any]:
    from openhands.sdk.workspace import RemoteWorkspace

    out: dict[str, Any] = {}
    out["unauthenticated_status"] = httpx.post(
        f"{url}/api/bash/execute_bash_command", json={"command": "true"}, timeout=30
    ).status_code
    with RemoteWorkspace(host=url, api_key=key, working_dir="/workspace/project") as ws:
        r = ws.execute_command("printf 'out\\n'; printf 'err\\n' >&2; exit 3", timeout=60)
        out["exec"] = {"exit_code": r.exit_code, "stdout": r.stdout, "stderr": r.stderr}
        r = ws.execute_command("pwd; id -u", timeout=60)
        out["pwd_uid"] = r.stdout
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp, "up.bin")
            payload = bytes(range(256)) * 64
            src.write_bytes(payload)
            up = ws.file_upload(src, "/workspace/project/up.bin")
            down = ws.file_download("/workspace/project/up.bin", Path(tmp, "down.bin"))
            out["upload_ok"] = up.success
            out["download_ok"] = down.success
            out["roundtrip_equal"] = Path(tmp, "down.bin").read_bytes() == payload
    return out


def fake_llm() -> Any:
    from openhands.sdk import LLM

    llm_server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    threading.Thread(target=llm_server.serve_forever, daemon=True).start()
    port = llm_server.server_address[1]
    return LLM(
        model="openai/fake-model",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key="fake",
        usage_id="e2e",
        num_retries=0,
    )


def run_conversation(url: str, key: str, tools: list[str], task: str) -> Any:
    """One agent loop in the server with ``tools``; (workspace, execution status,
    what ``FakeLLM.inspect`` found in the workspace before the conversation closed)."""
    from openhands.sdk import Agent, Conversation, Tool
    from openhands.sdk.workspace import RemoteWorkspace

    agent = Agent(llm=fake_llm(), tools=[Tool(name=t) for t in tools])
    ws = RemoteWorkspace(host=url, api_key=key, working_dir="/workspace/project")
    conversation = Conversation(agent=agent, workspace=ws)
    try:
        conversation.send_message(task)
        conversation.run()
        status = str(conversation.state.execution_status)
        seen = FakeLLM.inspect(ws) if FakeLLM.inspect else None
    finally:
        conversation.close()
    return ws, status, seen


def agent_loop(url: str, key: str) -> dict[str, Any]:
    from openhands.tools.terminal import TerminalTool

    ws, status, _ = run_conversation(
        url, key, [TerminalTool.name], "Leave a note in the project directory, then finish."
    )
    check = ws.execute_command(f"cat {AGENT_FILE}", timeout=60)
    return {"status": status, "llm_calls": len(FakeLLM.calls), "file": check.stdout}


SITE = "/workspace/project/oh-e2e-site"
SITE_PORT = 8765


def browser_loop(url: str, key: str) -> dict[str, Any]:
    """openhands-tools' browser toolset, scripted: navigate to a page served inside the
    container (it holds a token nothing else has), read its content, then its state
    with a screenshot, then finish. Returns what each browser tool sent the LLM."""
    from openhands.sdk.workspace import RemoteWorkspace
    from openhands.tools.browser_use import BrowserToolSet

    token = secrets.token_hex(12)
    with RemoteWorkspace(host=url, api_key=key, working_dir="/workspace/project") as ws:
        page = (
            "<html><head><title>oh e2e page</title></head><body>"
            f"<h1>Served inside the sandbox</h1><p id='t'>token {token}</p>"
            "<a href='#more'>more</a></body></html>"
        )
        r = ws.execute_command(
            f"mkdir -p {SITE} && printf '%s' \"{page}\" > {SITE}/index.html && "
            f"(oh-python -m http.server {SITE_PORT} --bind 127.0.0.1 --directory {SITE} "
            ">/dev/null 2>&1 &) && sleep 1",
            timeout=60,
        )
        if r.exit_code != 0:
            sys.exit(f"could not serve the page: {r.stdout} {r.stderr}")
    page_url = f"http://127.0.0.1:{SITE_PORT}/"
    for _ in range(50):
        try:
            if httpx.get(page_url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    FakeLLM.script = [
        ("browser_navigate", {"url": page_url}),
        ("browser_get_content", {}),
        ("browser_get_state", {"include_screenshot": True}),
        ("finish", {"message": "done"}),
    ]

    def screenshot(ws: Any) -> str:
        """The first bytes of the screenshot the state step saved, read in the container
        while the conversation (and its directory) still exists."""
        found = re.search(r"Screenshot saved to: (\S+\.png)", FakeLLM.results[-1])
        if not found:
            return "no screenshot saved"
        r = ws.execute_command(
            f"oh-python -c \"import sys; print(open(sys.argv[1], 'rb').read(8).hex())\" "
            f"{found.group(1)}",
            timeout=60,
        )
        return str(r.stdout).strip()

    FakeLLM.inspect = screenshot
    _, status, png = run_conversation(
        url, key, [BrowserToolSet.name], "Open the page served on port 8765 and read it."
    )
    names = ["navigate", "get_content", "get_state"]
    return {
        "status": status,
        "token": token,
        "results": dict(zip(names, FakeLLM.results, strict=False)),
        "screenshot_head": png,
    }


# The shell expands the markers, so the command line itself (if echoed) never matches.
ENV_COMMAND = "echo OH-ENV-$((1+1))-BEGIN; env; echo OH-ENV-$((1+1))-END"


def env_lines(text: str) -> dict[str, str]:
    """The ``env`` output between ENV_COMMAND's markers, as a mapping."""
    found = re.search(r"^OH-ENV-2-BEGIN\n(.*?)^OH-ENV-2-END$", text, re.M | re.S)
    if not found:
        return {"<no env output>": text[-2000:]}
    pairs = (line.partition("=") for line in found.group(1).splitlines() if "=" in line)
    return {k: v for k, _, v in pairs}


def env_loop(url: str, key: str) -> dict[str, Any]:
    """The agent's environment, as its terminal tool (a V1 conversation, scripted) and
    the workspace's command API each show it."""
    from openhands.sdk.workspace import RemoteWorkspace
    from openhands.tools.terminal import TerminalTool

    FakeLLM.script = [("terminal", {"command": ENV_COMMAND}), ("finish", {"message": "done"})]
    FakeLLM.inspect = None
    _, status, _ = run_conversation(url, key, [TerminalTool.name], "Show the environment.")
    terminal = env_lines(FakeLLM.results[0]) if FakeLLM.results else {}
    with RemoteWorkspace(host=url, api_key=key, working_dir="/workspace/project") as ws:
        r = ws.execute_command(ENV_COMMAND, timeout=60)
    return {"status": status, "terminal": terminal, "execute": env_lines(str(r.stdout))}


def main() -> None:
    url, key = sys.argv[1], sys.argv[2]
    wait = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
    t0 = time.monotonic()
    deadline = t0 + wait
    while True:
        try:
            if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"{url}/ready did not answer 200 within {wait:.0f} s")
        time.sleep(0.5)
    ready = time.monotonic() - t0
    # Modes (default: drive): drive = the workspace checks and an agent loop; browser;
    # env; all = the three, in that order, against one server.
    mode = sys.argv[4] if len(sys.argv) > 4 else "drive"
    result: dict[str, Any] = {"ready_after_s": round(ready, 1)}
    if mode in ("drive", "all"):
        result.update(workspace_checks(url, key))
        result["agent"] = agent_loop(url, key)
    if mode in ("browser", "all"):
        result["browser"] = browser_loop(url, key)
    if mode in ("env", "all"):
        result["env"] = env_loop(url, key)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
