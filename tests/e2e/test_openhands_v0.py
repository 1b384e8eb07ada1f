"""OpenHands V0: action execution server images (openhands-ai 1.6.0, the seed plan's
server, profiles/openhands-v0.toml) from a real bake, started with DockerRuntime's exact
container settings and command, and driven by OpenHands' own ActionExecutionClient.

The command comes from openhands-ai's own ``get_action_execution_server_startup_command``
(``/openhands/micromamba/bin/micromamba run -n openhands poetry run python -u -m
openhands.runtime.action_execution_server 8000 --working-dir /workspace --plugins
agent_skills jupyter --username openhands --user-id 1000 --no-enable-browser``), run
with ``entrypoint=[]``, ``init=True``, ``working_dir=/openhands/code/``. The client runs
with the image's own Python in a second container sharing the server's network.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    BIN,
    PROFILE_BASES,
    REPO,
    RESTRICTIONS,
    ROOT_RESTRICTIONS,
    SANDBOX_UID,
    bake_profile,
    sh,
)
from tests.e2e.registry import image_config
from tests.e2e.timings import timed

CONFIG = REPO / "profiles" / "openhands-v0.toml"
KEY = "e2e-v0-session-key"
CLIENT = ["-v", f"{REPO / 'tests/e2e/v0_client.py'}:/tmp/v0_client.py:ro"]
BASES = PROFILE_BASES
# Every base natively, baked for amd64 alone. Multi-platform bakes, arm64 deps built by
# cross-assembly and arm64 runtime images driven under qemu are V1's cases (the same
# build path); V0 on arm64 costs ~10 minutes of emulated deps checks and ~15 of driving
# (the server's imports alone take ~6), which `make test` does not spend twice. With
# OH_E2E_V0_ARM64=1 the profile is baked for both platforms and the arm64 image driven
# too (docs/compatibility.md has its result).
V0_ARM64 = os.environ.get("OH_E2E_V0_ARM64") == "1"
PLATFORMS = ("linux/amd64", "linux/arm64") if V0_ARM64 else ("linux/amd64",)
CASES = [(b, "linux/amd64") for b in BASES] + (
    [("debian-bookworm", "linux/arm64")] if V0_ARM64 else []
)


@pytest.fixture(scope="session")
def v0_baked(engine: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One real bake of profiles/openhands-v0.toml, pushed; base image -> runtime tag."""
    label = f"openhands-v0 bake: 6 bases x {'+'.join(PLATFORMS)}, --push"
    out = tmp_path_factory.mktemp("v0") / "build"
    return bake_profile(CONFIG, label, "bake-openhands-v0.log", out, PLATFORMS)


def client(ref: str, *args: str, network: str | None = None, timeout: float = 300) -> str:
    """v0_client.py ARGS with the image's own Python (amd64); its last stdout line. With
    ``network`` (the server container), fails as soon as the server has exited."""
    net = ["--network", f"container:{network}"] if network else []
    proc = subprocess.Popen(
        [
            "docker", "run", "--rm", "--pull", "always", "--platform", "linux/amd64", *net,
            "--entrypoint", "/openhands/bin/oh-python", *CLIENT, ref, "/tmp/v0_client.py", *args,
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(2)
        running = network is None or sh(
            "docker", "inspect", "-f", "{{.State.Running}}", network, check=False
        ).stdout.strip() == "true"  # fmt: skip
        if not running:
            break
    if proc.poll() is None:
        proc.kill()
    out, err = proc.communicate()
    logs = ""
    if network:
        logs = subprocess.run(
            ["docker", "logs", network], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ).stdout
    assert proc.returncode == 0, f"client failed:\n{err[-3000:]}\nserver log:\n{logs[-3000:]}"
    return out.strip().splitlines()[-1]


@functools.cache
def _v0_command(mode: tuple[str, ...], ref: str) -> tuple[str, ...]:
    return tuple(json.loads(client(ref, "command", *mode)))


def v0_command(ref: str, *mode: str) -> list[str]:
    """The command OpenHands' DockerRuntime computes for MODE (its own code, run in the
    image by v0_client.py). It is the profile's, the same in every image of one bake:
    computed once per mode, from the first image asked."""
    first = _V0_COMMAND_REF.setdefault(mode, ref)
    return list(_v0_command(mode, first))


_V0_COMMAND_REF: dict[tuple[str, ...], str] = {}
AGENT_UID = 1000  # the image's openhands user, whom V0 runs the agent as by default


def start_as_docker_runtime(
    ref: str, name: str, platform: str, command: list[str], options: tuple[str, ...] = ()
) -> None:
    """DockerRuntime's containers.run(): init, entrypoint [], working_dir, environment;
    ``options``: what a sandbox adds (docker run options).
    Under qemu-user the jupyter plugin needs more than V0's 120 s for its start:
    INIT_PLUGIN_TIMEOUT (V0's own setting, which DockerRuntime passes through
    sandbox.runtime_startup_env_vars) gives it 20 minutes there."""
    emulated = {"INIT_PLUGIN_TIMEOUT": "1200"} if platform != "linux/amd64" else {}
    env = {
        **emulated,
        "port": "8000",
        "PYTHONUNBUFFERED": "1",
        "OPENHANDS_SESSION_ID": name,
        "PIP_BREAK_SYSTEM_PACKAGES": "1",
        "SESSION_API_KEY": KEY,
    }
    sh(
        "docker", "run", "-d", "--pull", "always", "--name", name, "--platform", platform,
        "--init", "--entrypoint", "", "-w", "/openhands/code/", *options,
        *[x for k, v in env.items() for x in ("-e", f"{k}={v}")], ref, *command,
    )  # fmt: skip


def start_and_drive(
    ref: str,
    container: list[str],
    base: str,
    platform: str,
    *mode: str,
    options: tuple[str, ...] = (),
    login: bool = True,
    uid: int = AGENT_UID,
) -> dict[str, object]:
    """Start the image as DockerRuntime does, with the command OpenHands computes (MODE:
    ``root`` for run_as_openhands = false, ``browser`` for enable_browser) and a sandbox's
    docker run ``options``, and drive it with ActionExecutionClient; the checks every
    mode shares: the command's output, its uid (0 in root mode, else ``uid``: the image's
    openhands user, or the uid a sandbox starts the container as) and directory, the
    files, the agent's environment (``login``: V0 opens the agent's shell through su)."""
    command = v0_command(ref, *mode)
    assert command[:6] == [
        "/openhands/micromamba/bin/micromamba", "run", "-n", "openhands", "poetry", "run",
    ], command  # fmt: skip
    assert ("--no-enable-browser" in command) == ("browser" not in mode), command
    name = f"oh-v0-{base}-{platform.split('/')[1]}-{uuid.uuid4().hex[:6]}"
    container.append(name)
    t0 = time.monotonic()
    start_as_docker_runtime(ref, name, platform, command, options)
    emulated = platform.endswith("arm64")
    label = "".join(f" {m}" for m in mode)
    with timed(f"openhands-v0{label} on {base} ({platform}): ActionExecutionClient checks") as fig:
        timeout = 1500 if emulated else 540 if "browser" in mode else 300
        line = client(
            ref, "drive", "http://127.0.0.1:8000", KEY, str(timeout - 60), *mode,
            network=name, timeout=timeout,
        )  # fmt: skip
        got: dict[str, object] = json.loads(line)
        fig["alive after"] = f"{got['alive_after_s']} s"
        fig["seconds"] = f"{time.monotonic() - t0:.1f}"
    assert got["unauthenticated_status"] == 403, got  # V0 refuses a missing key with 403
    cmd = got["cmd"]
    assert isinstance(cmd, dict) and cmd["type"] == "CmdOutputObservation", got
    assert cmd["exit_code"] == 3, got
    lines = [line.strip() for line in str(cmd["content"]).splitlines() if line.strip()]
    want = "0" if "root" in mode else str(uid)
    assert lines[:4] == ["out", "err", want, "/workspace"], cmd
    assert got["write"] == "FileWriteObservation", got
    read = got["read"]
    assert isinstance(read, dict) and read["type"] == "FileReadObservation", got
    assert read["content"].rstrip("\n") == "written by V0's client", got
    assert_base_environment(ref, got["env"], login=login)
    got["name"] = name
    return got


# What DockerRuntime passes (start_as_docker_runtime), what V0's server sets in its own
# environment as it starts (its libraries' settings; CPython's C-locale coercion sets
# LC_CTYPE, PEP 538), and what tmux and bash set in the agent's shell.
V0_OWN = {
    "port", "PYTHONUNBUFFERED", "OPENHANDS_SESSION_ID", "PIP_BREAK_SYSTEM_PACKAGES",
    "SESSION_API_KEY", "INIT_PLUGIN_TIMEOUT", "PYGAME_HIDE_SUPPORT_PROMPT",
    "TIKTOKEN_CACHE_DIR", "LC_CTYPE", "HOME", "HOSTNAME", "PWD", "OLDPWD", "SHLVL", "_",
    "TERM", "PS1", "PS2", "USER", "LOGNAME", "SHELL", "MAIL", "LANG", "LC_ALL",
    "PROMPT_COMMAND", "TMUX", "TMUX_PANE", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "COLORTERM",
}  # fmt: skip
BUNDLE_OWN = ("OH_", "GCONV_PATH", "LOCPATH", "PLAYWRIGHT_", "PYTHONNOUSERSITE")


def assert_base_environment(ref: str, env: object, *, login: bool) -> None:
    """The agent's shell (a CmdRunAction's `env`) has none of the bundle's variables.
    Where V0 opens it with `su USER -` (``login``), it has the login environment su
    makes, as in OpenHands' own images; where it does not (started as the agent's user, or
    as root for root where su cannot work), it has the image's own settings as the image
    has them (PATH may gain the venv's bin, last) and only what V0 adds."""
    assert isinstance(env, dict) and env, env
    leaked = {k: v for k, v in env.items() if k.startswith(BUNDLE_OWN)}
    assert not leaked, f"the bundle's variables reached the agent's shell: {leaked}"
    if login:
        return
    config = dict(e.partition("=")[::2] for e in image_config(ref)["config"]["Env"])
    wrong = {k: (env.get(k), v) for k, v in config.items() if k != "PATH" and env.get(k) != v}
    assert not wrong, f"the image's settings changed in the agent's shell (got, image): {wrong}"
    assert str(env.get("PATH", "")).startswith(config["PATH"]), (env.get("PATH"), config)
    extra = env.keys() - config.keys() - V0_OWN
    assert not extra, f"variables neither the image nor V0 sets: {sorted(extra)}"


# The browser as DockerRuntime enables it by default (no --no-enable-browser: V0 starts
# browsergym with Playwright's Chromium, which the bundle's links point at), on a Debian
# base and on the base with no libc at all; the same server is driven first.
BROWSER_BASES = ("debian-bookworm", "busybox")


@pytest.mark.parametrize(("base", "platform"), CASES)
def test_openhands_v0_client_drives_action_server(
    v0_baked: dict[str, str], container: list[str], base: str, platform: str
) -> None:
    ref = v0_baked[BASES[base]]
    browser = base in BROWSER_BASES and platform == "linux/amd64"
    got = start_and_drive(ref, container, base, platform, *(["browser"] if browser else []))
    assert isinstance(got["list_files"], list)
    assert "up/" in got["list_files"] and "v0-note.txt" in got["list_files"], got
    assert got["list_up"] == ["uploaded.txt"], got
    assert got["download"] == {"uploaded.txt": "uploaded by V0's client\n"}, got
    assert str(got["uploaded_seen_by_shell"]).strip().splitlines()[0] == "uploaded by V0's client"
    machine = sh(
        "docker", "exec", str(got["name"]), "/openhands/bin/oh-python", "-c",
        "import platform; print(platform.machine())",
    ).stdout.strip()  # fmt: skip
    assert machine == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}[platform]
    if browser:
        seen = got["browse"]
        assert isinstance(seen, dict), got
        assert seen["type"] == "BrowserOutputObservation" and not seen["error"], seen
        assert seen["token"] in seen["content"], seen
        assert seen["screenshot_chars"] > 1000 or seen["axtree_chars"] > 100, seen


# OpenHands' run_as_openhands = false (its SWE-bench evaluation's setting): the server
# runs as root for root, on every base. Where root's login shell is bash, V0 opens the
# agent's shell with `su root -` (a login environment); where it is not (busybox's sh, a
# nologin), `su root -` never answered V0's bash prompt protocol (issue 22), and the
# launcher has V0 start /bin/bash itself.
ROOT_LOGIN_IS_BASH = {"debian-bookworm", "debian-trixie", "uid1000"}


@pytest.mark.parametrize("base", list(BASES))
def test_openhands_v0_as_root(v0_baked: dict[str, str], container: list[str], base: str) -> None:
    start_and_drive(
        v0_baked[BASES[base]], container, base, "linux/amd64", "root",
        login=base in ROOT_LOGIN_IS_BASH,
    )  # fmt: skip


# The sandbox restrictions V1's case has, as an arbitrary uid (no passwd entry). V0 gives
# what its FileWriteAction writes to its --user-id (DockerRuntime passes 1000), which
# only root may do: the launcher tells V0 the uid it runs as (one log line).
@pytest.mark.parametrize("base", ["debian-bookworm", "busybox"])
def test_openhands_v0_in_a_restricted_sandbox(
    v0_baked: dict[str, str], container: list[str], base: str, tmp_path: Path
) -> None:
    """DockerRuntime's command under every restriction at once (read-only root, tmpfs
    /tmp, no capabilities, no new privileges, no network, nofile 256), as the uid that
    owns the host directory mounted as the workspace: the server is that user already
    (no su), and what the agent writes is that uid's, on the host."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    os.chown(workspace, SANDBOX_UID, SANDBOX_UID)
    options = (*RESTRICTIONS, "-v", f"{workspace}:/workspace")
    start_and_drive(
        v0_baked[BASES[base]], container, base, "linux/amd64",
        options=options, login=False, uid=SANDBOX_UID,
    )  # fmt: skip
    assert (workspace / "v0-note.txt").stat().st_uid == SANDBOX_UID


def test_openhands_v0_as_root_without_capabilities(
    v0_baked: dict[str, str], container: list[str]
) -> None:
    """Root with every capability dropped: for root (run_as_openhands = false) it needs
    no su and works; for openhands (the default) it cannot switch users, and the server
    stops at once with one line naming what to change."""
    ref = v0_baked[BASES["debian-bookworm"]]
    start_and_drive(
        ref, container, "debian-bookworm", "linux/amd64", "root",
        options=ROOT_RESTRICTIONS, login=False,
    )  # fmt: skip
    command = v0_command(ref)
    t0 = time.monotonic()
    r = sh(
        "docker", "run", "--rm", "--init", "--entrypoint", "", "-w", "/openhands/code/",
        *ROOT_RESTRICTIONS, ref, *command, check=False,
    )  # fmt: skip
    said = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert r.returncode == 78, (r.returncode, said)
    assert len(said) == 1 and "--cap-add SETUID --cap-add SETGID" in said[0], said
    assert time.monotonic() - t0 < 30, "not at once"


def test_seed_short_form_starts_v0(v0_baked: dict[str, str], container: list[str]) -> None:
    """The image's own command (tini -- oh-action-execution-server 8000 /workspace, the
    seed's short form) serves /alive."""
    ref = v0_baked["debian:bookworm"]
    name = f"oh-v0-cmd-{uuid.uuid4().hex[:6]}"
    container.append(name)
    run = ["docker", "run", "-d", "--pull", "always", "--name", name]
    sh(*run, "-e", f"SESSION_API_KEY={KEY}", ref)
    code = (
        "import time, urllib.request\n"
        "for _ in range(240):\n"
        "    try:\n"
        "        print(urllib.request.urlopen('http://127.0.0.1:8000/alive').status); break\n"
        "    except OSError: time.sleep(0.5)\n"
    )
    deadline = time.monotonic() + 150
    out = ""
    while time.monotonic() < deadline and "200" not in out:
        out = subprocess.run(
            ["docker", "exec", name, "/openhands/bin/oh-python", "-c", code],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
    logs = subprocess.run(
        ["docker", "logs", name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ).stdout
    assert "200" in out, logs[-3000:]
    pid1 = sh(
        "docker", "exec", name, "/openhands/bin/oh-python", "-c",
        "print(open('/proc/1/cmdline').read().split(chr(0))[0])",
    ).stdout.strip()  # fmt: skip
    assert pid1 == "/openhands/usr/bin/tini"


def test_verify_knows_v0(v0_baked: dict[str, str]) -> None:
    """`oh-builder verify` starts a V0 image with a session key and checks V0's API, on
    the base with no shell (the image's own command on a Debian base is the case above)."""
    r = sh(str(BIN / "oh-builder"), "verify", "--json", v0_baked[BASES["noshell"]], check=False)
    report = json.loads(r.stdout)
    checks = {c["name"]: (c["ok"], c["detail"]) for c in report["checks"]}
    assert list(checks) == [
        "alive", "auth", "bash", "files", "base programs", "environment",
    ], checks  # fmt: skip
    assert report["ok"] and r.returncode == 0, checks
