"""`oh-builder verify` for the sample app's action server (server kind "action-server",
app/): started with its own command, checked through its small HTTP API (/execute,
/files/*, /browse)."""

from __future__ import annotations

import base64
import json
import struct
import time
import urllib.request
import zlib
from typing import Any

from builder.checks import Check, Target, base_checks, expect, wait_until

PAGE = "<html><head><title>oh verify</title></head><body><h1>Hello from inside</h1></body></html>"
CHECKS = ("alive", "bash", "files", "python", "tools", "browser", "base programs", "environment")


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def call(self, path: str, body: dict[str, Any] | None = None, timeout: float = 120) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path,
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST" if body is not None else "GET",
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)

    def sh(self, command: str, timeout: float = 60) -> tuple[int, str]:
        r = self.call("/execute", {"command": command, "timeout": timeout}, timeout + 30)
        return int(r["exit_code"]), str(r["output"])


def wait_alive(api: Api, timeout: float) -> float:
    return wait_until(lambda: api.call("/alive", timeout=2) == {"status": "ok"}, timeout,
                      "/alive did not answer")  # fmt: skip


def png_is_blank(png: bytes) -> bool:
    """True when every pixel byte of the (8-bit) PNG is the same value."""
    expect(png.startswith(b"\x89PNG\r\n\x1a\n"), "screenshot is not a PNG")
    pos, idat = 8, b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        if kind == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    width = struct.unpack(">I", png[16:20])[0]
    channels = {2: 3, 6: 4, 0: 1, 4: 2}.get(png[25], 3)
    stride = width * channels + 1
    pixels = b"".join(raw[i + 1 : i + stride] for i in range(0, len(raw), stride))
    return len(set(pixels[: 4 * 1024 * 1024])) <= 1


def check_bash(api: Api) -> str:
    code, out = api.sh("echo 'héllo ☃'")
    expect(code == 0 and out == "héllo ☃\n", f"echo gave {code}: {out!r}")
    api.sh("cd /tmp && export OH_VERIFY=persisted")
    code, out = api.sh('pwd; echo "$OH_VERIFY"')
    expect(out == "/tmp\npersisted\n", f"state not kept: {out!r}")
    api.sh("cd /workspace")
    return "UTF-8 output; cd and export persist"


def check_files(api: Api) -> str:
    api.call("/files/write", {"path": "oh-verify/hello.txt", "content": "written ✓\n"})
    got = api.call("/files/read", {"path": "oh-verify/hello.txt"})["content"]
    expect(got == "written ✓\n", f"read back {got!r}")
    code, out = api.sh(
        "oh-python -c \"import os; s = os.stat('/workspace/oh-verify/hello.txt'); "
        'print(s.st_uid, s.st_gid)"'
    )
    expect(code == 0 and out.split()[0] == "1000", f"owner: {out!r}")
    api.sh(
        "rm -rf /workspace/oh-verify 2>/dev/null || oh-python -c "
        "\"import shutil; shutil.rmtree('/workspace/oh-verify')\""
    )
    return "written and read back in /workspace, uid 1000"


def check_python(api: Api) -> str:
    code, out = api.sh(
        'oh-python -c "import ssl, sqlite3, fastapi, uvicorn, playwright, platform; '
        'print(platform.machine(), platform.python_version(), ssl.OPENSSL_VERSION)"'
    )
    expect(code == 0, f"imports failed: {out[-300:]}")
    return out.strip()


def check_tools(api: Api) -> str:
    code, out = api.sh(
        "set -e; cd /tmp; echo '{\"a\": [1, 2]}' | oh-jq -c .a; echo needle >oh-rg.txt; "
        "oh-rg -c needle oh-rg.txt; oh-git init -q oh-git-$$; "
        "oh-git -C oh-git-$$ -c user.email=a@b -c user.name=a commit -q --allow-empty -m x; "
        "oh-git -C oh-git-$$ log --format=%s; "
        'oh-python -c "import shutil, sys; shutil.rmtree(sys.argv[1])" oh-git-$$'
    )
    expect(code == 0 and out.split() == ["[1,2]", "1", "x"], f"tools: {code} {out[-300:]!r}")
    return "jq, rg, git work"


def check_browser(api: Api) -> str:
    api.call("/files/write", {"path": ".oh-verify-site/index.html", "content": PAGE})
    api.sh(
        "(oh-python -m http.server 8765 --bind 127.0.0.1 --directory "
        "/workspace/.oh-verify-site >/dev/null 2>&1 &)"
    )
    deadline = time.monotonic() + 20
    while True:
        code, _ = api.sh(
            'oh-python -c "import urllib.request as u; '
            "u.urlopen('http://127.0.0.1:8765/', timeout=2)\""
        )
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    r = api.call("/browse", {"url": "http://127.0.0.1:8765/", "timeout": 120}, timeout=300)
    expect(r.get("title") == "oh verify", f"title {r.get('title')!r}")
    expect("Hello from inside" in r.get("text", ""), f"text {r.get('text', '')[:100]!r}")
    api.sh("oh-python -c \"import shutil; shutil.rmtree('/workspace/.oh-verify-site')\"")
    png = base64.b64decode(r["screenshot_png_base64"])
    expect(not png_is_blank(png), "screenshot is blank")
    return f"title and text read; screenshot {len(png)} bytes, not blank"


GATES = 1  # the first GATES checks stop the run when they fail


def checks(t: Target) -> list[Check]:
    api = Api(t.port)
    alive = lambda: f"answered {wait_alive(api, t.alive_timeout):.2f} s after start"  # noqa: E731
    browser = (
        (lambda: check_browser(api))
        if "browser" in t.capabilities
        else (lambda: "no browser capability: not checked")
    )
    return [
        ("alive", alive),
        ("bash", lambda: check_bash(api)),
        ("files", lambda: check_files(api)),
        ("python", lambda: check_python(api)),
        ("tools", lambda: check_tools(api)),
        ("browser", browser),
        *base_checks(api, t),
    ]
