"""OpenHands V1: agent-server runtime images from a real bake, started the way OpenHands
starts them and driven by OpenHands' own client code (openhands-sdk's RemoteWorkspace and
a full agent loop against a fake LLM).

The client runs with the image's own Python in a second container that shares the
server container's network namespace: the SDK needs Python >= 3.12, and the agent loop
runs inside the server, which reaches the fake LLM on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest

from tests.e2e.conftest import BIN, PROFILE_BASES, REPO, bake_profile, sh
from tests.e2e.timings import timed

CONFIG = REPO / "builder.toml"
KEY = "e2e-session-key"
# bake target name -> base image
BASES = PROFILE_BASES


@pytest.fixture(scope="session")
def v1_baked(engine: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One real bake of builder.toml (the default config), pushed; base image -> runtime tag."""
    label = "agent-server bake: 6 bases x linux/amd64+arm64, --push"
    return bake_profile(
        CONFIG, label, "bake-agent-server.log", tmp_path_factory.mktemp("v1") / "build"
    )


def start_server(ref: str, name: str, platform: str, *args: str, **env: str) -> None:
    """As openhands-ai's sandbox service starts an agent-server image: its ENTRYPOINT
    kept, command ARGS, working_dir /workspace/project, the OH_* settings."""
    envs = [x for k, v in env.items() for x in ("-e", f"{k}={v}")]
    sh(
        "docker", "run", "-d", "--pull", "always", "--name", name, "--platform", platform,
        "-w", "/workspace/project", *envs, ref, *args,
    )  # fmt: skip


def drive(ref: str, server: str, timeout: float) -> dict[str, object]:
    """Run v1_client.py with the image's own Python (amd64), in the server's network
    namespace."""
    r = subprocess.run(
        [
            "docker", "run", "--rm", "--pull", "always", "--platform", "linux/amd64",
            "--network", f"container:{server}", "--entrypoint", "/openhands/bin/oh-python",
            "-v", f"{REPO / 'tests/e2e/v1_client.py'}:/tmp/v1_client.py:ro",
            ref, "/tmp/v1_client.py", "http://127.0.0.1:8000", KEY, str(timeout / 2),
        ],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    logs = subprocess.run(["docker", "logs", server], capture_output=True, text=True).stderr
    assert r.returncode == 0, f"client failed:\n{r.stderr[-3000:]}\nserver log:\n{logs[-3000:]}"
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


# Every base natively; arm64 under qemu-user on one base: the server and its agent loop
# run emulated (the client, the same image's amd64 variant, natively beside it: the
# emulated SDK import alone took minutes).
CASES = [(b, "linux/amd64") for b in BASES] + [("debian-bookworm", "linux/arm64")]


def in_container(name: str, code: str) -> str:
    """Output of Python CODE run by the bundle's Python inside container NAME."""
    return sh("docker", "exec", name, "/openhands/bin/oh-python", "-c", code).stdout


@pytest.mark.parametrize(("base", "platform"), CASES)
def test_openhands_client_drives_agent_server(
    v1_baked: dict[str, str], container: list[str], base: str, platform: str
) -> None:
    ref = v1_baked[BASES[base]]
    name = f"oh-v1-{base}-{platform.split('/')[1]}-{uuid.uuid4().hex[:6]}"
    container.append(name)
    t0 = time.monotonic()
    start_server(
        ref, name, platform, "--port", "8000",
        OH_SESSION_API_KEYS_0=KEY,
        OH_CONVERSATIONS_PATH="/workspace/conversations",
        OH_BASH_EVENTS_DIR="/workspace/bash_events",
    )  # fmt: skip
    with timed(f"agent-server on {base} ({platform}): OpenHands client checks") as fig:
        got = drive(ref, name, timeout=900 if platform.endswith("arm64") else 300)
        fig["ready after"] = f"{got['ready_after_s']} s"
        fig["seconds"] = f"{time.monotonic() - t0:.1f}"
    machine = in_container(name, "import platform; print(platform.machine())").strip()
    assert machine == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}[platform]
    assert got["unauthenticated_status"] == 401, got
    assert got["exec"] == {"exit_code": 3, "stdout": "out\n", "stderr": "err\n"}, got
    assert got["pwd_uid"] == "/workspace/project\n1000\n", got
    assert got["upload_ok"] and got["download_ok"] and got["roundtrip_equal"], got
    agent = got["agent"]
    assert isinstance(agent, dict)
    assert agent["status"].lower().endswith("finished"), agent
    assert agent["file"] == "agent-was-here\n", agent
    # The agent's effect is in the container, seen from outside the server's API too.
    assert in_container(name, "print(open('/workspace/project/agent-was-here.txt').read())") == (
        "agent-was-here\n\n"
    )


def test_agent_server_without_key_says_how(v1_baked: dict[str, str], container: list[str]) -> None:
    """No arguments and no key: the server listens on loopback only, and the log says
    which variable to set."""
    ref = v1_baked["debian:bookworm"]
    name = f"oh-v1-nokey-{uuid.uuid4().hex[:6]}"
    container.append(name)
    sh("docker", "run", "-d", "--pull", "always", "--name", name, ref)
    deadline = time.monotonic() + 60
    logs = ""
    while time.monotonic() < deadline:
        r = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
        logs = r.stdout + r.stderr
        if "Starting OpenHands Agent Server" in logs:
            break
        time.sleep(0.5)
    assert "OH_SESSION_API_KEYS_0" in logs and "127.0.0.1" in logs, logs[-2000:]
    assert "Starting OpenHands Agent Server on 127.0.0.1:8000" in logs, logs[-2000:]


def test_tini_is_pid_1(v1_baked: dict[str, str], container: list[str]) -> None:
    ref = v1_baked["debian:bookworm"]
    name = f"oh-v1-init-{uuid.uuid4().hex[:6]}"
    container.append(name)
    sh(
        "docker",
        "run",
        "-d",
        "--pull",
        "always",
        "--name",
        name,
        "-e",
        f"OH_SESSION_API_KEYS_0={KEY}",
        ref,
    )
    pid1 = in_container(name, "print(open('/proc/1/cmdline').read().split(chr(0))[0])")
    assert pid1.strip() == "/openhands/usr/bin/tini"


@pytest.mark.parametrize("base", ["debian-bookworm", "noshell"])
def test_verify_knows_the_agent_server(v1_baked: dict[str, str], base: str) -> None:
    """`oh-builder verify` starts a V1 image as OpenHands does and checks its API."""
    r = sh(str(BIN / "oh-builder"), "verify", "--json", v1_baked[BASES[base]], check=False)
    report = json.loads(r.stdout)
    checks = {c["name"]: (c["ok"], c["detail"]) for c in report["checks"]}
    assert list(checks) == [
        "alive", "ready", "auth", "bash", "files", "base programs", "environment",
    ], checks  # fmt: skip
    assert report["ok"] and r.returncode == 0, checks
