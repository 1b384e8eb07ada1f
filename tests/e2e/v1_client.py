"""Drive an agent-server the way OpenHands does: with OpenHands' own client code.

Runs inside a second container that shares the server container's network namespace,
with the image's own Python (`oh-python`, which carries openhands-sdk at the locked
version): the SDK needs Python >= 3.12, and V1 runs the agent loop inside the server,
so the fake LLM served here must be reachable from the server (here: 127.0.0.1).

Usage: oh-python v1_client.py SERVER_URL API_KEY [READY_WAIT_S]   (prints one JSON object)
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx

AGENT_FILE = "/workspace/project/agent-was-here.txt"


class FakeLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat-completions endpoint with a script: one terminal tool
    call, then finish."""

    calls: ClassVar[list[int]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLLM.calls.append(1)
        answered = any(m.get("role") == "tool" for m in body.get("messages", []))
        if answered:
            name, args = "finish", {"message": "done"}
        else:
            name, args = "terminal", {"command": f"echo agent-was-here > {AGENT_FILE}"}
        args["security_risk"] = "LOW"
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


def agent_loop(url: str, key: str) -> dict[str, Any]:
    from openhands.sdk import LLM, Agent, Conversation, Tool
    from openhands.sdk.workspace import RemoteWorkspace
    from openhands.tools.terminal import TerminalTool

    llm_server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    threading.Thread(target=llm_server.serve_forever, daemon=True).start()
    port = llm_server.server_address[1]
    llm = LLM(
        model="openai/fake-model",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key="fake",
        usage_id="e2e",
        num_retries=0,
    )
    agent = Agent(llm=llm, tools=[Tool(name=TerminalTool.name)])
    ws = RemoteWorkspace(host=url, api_key=key, working_dir="/workspace/project")
    conversation = Conversation(agent=agent, workspace=ws)
    try:
        conversation.send_message("Leave a note in the project directory, then finish.")
        conversation.run()
        status = str(conversation.state.execution_status)
    finally:
        conversation.close()
    check = ws.execute_command(f"cat {AGENT_FILE}", timeout=60)
    return {"status": status, "llm_calls": len(FakeLLM.calls), "file": check.stdout}


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
    result = workspace_checks(url, key)
    result["ready_after_s"] = round(ready, 1)
    result["agent"] = agent_loop(url, key)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
