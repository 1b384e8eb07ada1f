"""`oh-builder verify IMAGE`: start a runtime image and prove it works through its API.

Checks are plain functions over a small HTTP client, so they read like the list in
docs/compatibility.md. The container is always removed, also on Ctrl-C.
"""

from __future__ import annotations

import base64
import json
import struct
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from builder import engine
from builder import verify_v0 as v0
from builder import verify_v1 as v1
from builder.errors import VerifyError
from builder.verify_v0 import V0Api
from builder.verify_v1 import V1Api

PAGE = "<html><head><title>oh verify</title></head><body><h1>Hello from inside</h1></body></html>"


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


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


def _expect(cond: bool, detail: str) -> None:
    if not cond:
        raise AssertionError(detail)


def wait_alive(api: Api, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if api.call("/alive", timeout=2) == {"status": "ok"}:
                return time.monotonic() - start
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"/alive did not answer within {timeout:.0f} s")


def png_is_blank(png: bytes) -> bool:
    """True when every pixel byte of the (8-bit) PNG is the same value."""
    _expect(png.startswith(b"\x89PNG\r\n\x1a\n"), "screenshot is not a PNG")
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
    _expect(code == 0 and out == "héllo ☃\n", f"echo gave {code}: {out!r}")
    api.sh("cd /tmp && export OH_VERIFY=persisted")
    code, out = api.sh('pwd; echo "$OH_VERIFY"')
    _expect(out == "/tmp\npersisted\n", f"state not kept: {out!r}")
    api.sh("cd /workspace")
    return "UTF-8 output; cd and export persist"


def check_files(api: Api) -> str:
    api.call("/files/write", {"path": "oh-verify/hello.txt", "content": "written ✓\n"})
    got = api.call("/files/read", {"path": "oh-verify/hello.txt"})["content"]
    _expect(got == "written ✓\n", f"read back {got!r}")
    code, out = api.sh(
        "oh-python -c \"import os; s = os.stat('/workspace/oh-verify/hello.txt'); "
        'print(s.st_uid, s.st_gid)"'
    )
    _expect(code == 0 and out.split()[0] == "1000", f"owner: {out!r}")
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
    _expect(code == 0, f"imports failed: {out[-300:]}")
    return out.strip()


def check_tools(api: Api) -> str:
    code, out = api.sh(
        "set -e; cd /tmp; echo '{\"a\": [1, 2]}' | oh-jq -c .a; echo needle >oh-rg.txt; "
        "oh-rg -c needle oh-rg.txt; oh-git init -q oh-git-$$; "
        "oh-git -C oh-git-$$ -c user.email=a@b -c user.name=a commit -q --allow-empty -m x; "
        "oh-git -C oh-git-$$ log --format=%s; "
        'oh-python -c "import shutil, sys; shutil.rmtree(sys.argv[1])" oh-git-$$'
    )
    _expect(code == 0 and out.split() == ["[1,2]", "1", "x"], f"tools: {code} {out[-300:]!r}")
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
    _expect(r.get("title") == "oh verify", f"title {r.get('title')!r}")
    _expect("Hello from inside" in r.get("text", ""), f"text {r.get('text', '')[:100]!r}")
    api.sh("oh-python -c \"import shutil; shutil.rmtree('/workspace/.oh-verify-site')\"")
    png = base64.b64decode(r["screenshot_png_base64"])
    _expect(not png_is_blank(png), "screenshot is blank")
    return f"title and text read; screenshot {len(png)} bytes, not blank"


def check_base_programs(api: Api | V1Api | V0Api) -> str:
    done = []
    code, out = api.sh("if [ -e /bin/sh ]; then /bin/sh -c true && echo sh; fi")
    _expect(code == 0, f"/bin/sh -c true failed: {out[-200:]}")
    if "sh" in out.split():
        done.append("/bin/sh")
    code, out = api.sh("test -e /etc/debian_version && echo debian || true")
    if out.strip() == "debian":
        code, out = api.sh("ls / >/dev/null && apt-get --version")
        _expect(code == 0 and out.startswith("apt "), f"ls/apt-get failed: {out[-200:]}")
        done += ["ls", "apt-get"]
    return ", ".join(done) + " work" if done else "base has no shell (nothing to run)"


def check_environment(api: Api | V1Api | V0Api, base_env: dict[str, str]) -> str:
    _, out = api.sh(
        "for v in LD_LIBRARY_PATH PYTHONHOME PYTHONPATH LD_PRELOAD; do "
        'echo "$v=${!v-<unset>}"; done'
    )
    got = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for var, value in got.items():
        want = base_env.get(var, "<unset>")
        _expect(value == want, f"{var} is {value!r} in the agent's shell, base has {want!r}")
    return "no LD_LIBRARY_PATH/PYTHONHOME/PYTHONPATH/LD_PRELOAD of ours"


CHECKS = ("alive", "bash", "files", "python", "tools", "browser", "base programs", "environment")


def run_one(name: str, fn: Callable[[], str], skip: frozenset[str]) -> CheckResult:
    """One check, timed; a failed expectation or an I/O error is a failed check."""
    if name in skip:
        return CheckResult(name=name, ok=True, detail="skipped", seconds=0.0)
    start = time.monotonic()
    try:
        detail, ok = fn(), True
    except (AssertionError, OSError, ValueError, KeyError) as exc:
        detail, ok = str(exc) or type(exc).__name__, False
    return CheckResult(name=name, ok=ok, detail=detail, seconds=time.monotonic() - start)


def run_checks(
    api: Api, base_env: dict[str, str], *, alive_timeout: float, skip: frozenset[str] = frozenset()
) -> list[CheckResult]:
    results: list[CheckResult] = []

    def run(name: str, fn: Callable[[], str]) -> None:
        results.append(run_one(name, fn, skip))

    alive: list[float] = []

    def alive_check() -> str:
        alive.append(wait_alive(api, alive_timeout))
        return f"answered {alive[0]:.2f} s after start"

    run("alive", alive_check)
    if not results[0].ok:
        return results
    run("bash", lambda: check_bash(api))
    run("files", lambda: check_files(api))
    run("python", lambda: check_python(api))
    run("tools", lambda: check_tools(api))
    run("browser", lambda: check_browser(api))
    run("base programs", lambda: check_base_programs(api))
    run("environment", lambda: check_environment(api, base_env))
    return results


def run_v1_checks(
    api: V1Api, base_env: dict[str, str], *, alive_timeout: float, skip: frozenset[str]
) -> list[CheckResult]:
    """The agent-server's checks; ``base programs`` and ``environment`` as for V0."""
    results: list[CheckResult] = []
    checks: list[tuple[str, Callable[[], str]]] = [
        ("alive", lambda: f"answered {v1.wait_for(api, '/alive', alive_timeout):.2f} s"),
        ("ready", lambda: f"ready {v1.wait_for(api, '/ready', alive_timeout):.2f} s later"),
        ("auth", lambda: v1.check_auth(api)),
        ("bash", lambda: v1.check_bash(api)),
        ("files", lambda: v1.check_files(api)),
        ("base programs", lambda: check_base_programs(api)),
        ("environment", lambda: check_environment(api, base_env)),
    ]
    for name, fn in checks:
        results.append(run_one(name, fn, skip))
        if name in ("alive", "ready") and not results[-1].ok:
            break
    return results


def run_v0_checks(
    api: V0Api, base_env: dict[str, str], *, alive_timeout: float, skip: frozenset[str]
) -> list[CheckResult]:
    """OpenHands V0's action execution server; ``base programs`` and ``environment`` as
    for the others."""
    checks: list[tuple[str, Callable[[], str]]] = [
        ("alive", lambda: f"answered ok {v0.wait_alive(api, alive_timeout):.2f} s after start"),
        ("auth", lambda: v0.check_auth(api)),
        ("bash", lambda: v0.check_bash(api)),
        ("files", lambda: v0.check_files(api)),
        ("base programs", lambda: check_base_programs(api)),
        ("environment", lambda: check_environment(api, base_env)),
    ]
    results = [run_one(checks[0][0], checks[0][1], skip)]
    if results[0].ok:
        results += [run_one(name, fn, skip) for name, fn in checks[1:]]
    return results


def is_agent_server(image: str) -> bool:
    return any(p.endswith("/oh-agent-server") for p in engine.image_entrypoint(image))


def verify(
    image: str,
    *,
    platform: str | None = None,
    alive_timeout: float = 60,
    skip: frozenset[str] = frozenset(),
) -> list[CheckResult]:
    """Start ``image``, run every check, always remove the container. An agent-server
    image (OpenHands V1) is started as OpenHands starts it and checked through its API;
    an openhands-v0 image through V0's action API."""
    # Registry images are always pulled (a single-platform local copy must never stand in
    # for another platform); a local-only tag is used as it is.
    first = image.split("/", 1)[0]
    remote = "/" in image and ("." in first or ":" in first or first == "localhost")
    if remote:
        engine.pull_image(image, platform=platform)
    key = v1.new_key()
    base_env = engine.image_env(image)
    agent_server = is_agent_server(image)
    v0_server = not agent_server and v0.is_v0(base_env)
    options = v1.start_options(key) if agent_server else v0.start_options(key) if v0_server else {}
    container_id, port = engine.run_container(image, platform=platform, pull=False, **options)
    try:
        if agent_server:
            results = run_v1_checks(
                V1Api(port, key), base_env, alive_timeout=alive_timeout, skip=skip
            )
        elif v0_server:
            results = run_v0_checks(
                V0Api(port, key), base_env, alive_timeout=alive_timeout, skip=skip
            )
        else:
            results = run_checks(Api(port), base_env, alive_timeout=alive_timeout, skip=skip)
        if not results[0].ok:
            logs = engine.container_logs(container_id)
            results[0] = CheckResult(
                name="alive",
                ok=False,
                detail=f"{results[0].detail}; logs: {logs[-500:]}",
                seconds=results[0].seconds,
            )
        return results
    finally:
        engine.remove_container(container_id)


def raise_on_failure(image: str, results: list[CheckResult]) -> None:
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise VerifyError(f"{image}: {len(failed)} check(s) failed: {', '.join(failed)}")
