"""OpenHands V1: agent-server runtime images from a real bake, started the way OpenHands
starts them and driven by OpenHands' own client code (openhands-sdk's RemoteWorkspace and
a full agent loop against a fake LLM).

The client runs with the image's own Python in a second container that shares the
server container's network namespace: the SDK needs Python >= 3.12, and the agent loop
runs inside the server, which reaches the fake LLM on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    BIN,
    PROFILE_BASES,
    REPO,
    RESTRICTIONS,
    SANDBOX_UID,
    bake_profile,
    lock_config,
    sh,
)
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


def start_server(
    ref: str, name: str, platform: str, *args: str, options: Sequence[str] = (), **env: str
) -> None:
    """As openhands-ai's sandbox service starts an agent-server image: its ENTRYPOINT
    kept, command ARGS, working_dir /workspace/project, the OH_* settings; OPTIONS: more
    of `docker run`'s (a sandbox's restrictions)."""
    envs = [x for k, v in env.items() for x in ("-e", f"{k}={v}")]
    sh(
        "docker", "run", "-d", "--pull", "always", "--name", name, "--platform", platform,
        "-w", "/workspace/project", *options, *envs, ref, *args,
    )  # fmt: skip


def drive(ref: str, server: str, timeout: float, *mode: str) -> dict[str, object]:
    """Run v1_client.py with the image's own Python (amd64), in the server's network
    namespace."""
    r = subprocess.run(
        [
            "docker", "run", "--rm", "--pull", "always", "--platform", "linux/amd64",
            "--network", f"container:{server}", "--entrypoint", "/openhands/bin/oh-python",
            "-v", f"{REPO / 'tests/e2e/v1_client.py'}:/tmp/v1_client.py:ro",
            ref, "/tmp/v1_client.py", "http://127.0.0.1:8000", KEY, str(timeout / 2), *mode,
        ],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    logs = subprocess.run(["docker", "logs", server], capture_output=True, text=True).stderr
    assert r.returncode == 0, f"client failed:\n{r.stderr[-3000:]}\nserver log:\n{logs[-3000:]}"
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


# Every base natively. arm64 under qemu-user (the server and its agent loop emulated, the
# client natively beside it) took 10 minutes on one base, a fifth of the suite's budget:
# it runs with OH_E2E_V1_ARM64=1 (docs/compatibility.md has its result); `make test`
# covers arm64 with the sample profile's verify and the deps build's smoke checks.
CASES = [(b, "linux/amd64") for b in BASES] + (
    [("debian-bookworm", "linux/arm64")] if os.environ.get("OH_E2E_V1_ARM64") == "1" else []
)
LAUNCHER = {
    "OH_SESSION_API_KEYS_0": KEY,
    "OH_CONVERSATIONS_PATH": "/workspace/conversations",
    "OH_BASH_EVENTS_DIR": "/workspace/bash_events",
}


def in_container(name: str, code: str) -> str:
    """Output of Python CODE run by the bundle's Python inside container NAME."""
    return sh("docker", "exec", name, "/openhands/bin/oh-python", "-c", code).stdout


# One server per base and platform, driven once by the client in every mode it is
# asked for; each test below reads its part (a server start, a client start and the
# image's pull and unpack are most of a case's time).
_RUNS: dict[tuple[str, str, str, tuple[str, ...]], dict[str, object] | str] = {}
PRELOAD_MAPS = "print('libohpre' in open('/proc/self/maps').read())"
NSS_LOOKUPS = (
    "import grp, pwd, socket;"
    "print(pwd.getpwuid(1000).pw_name, grp.getgrgid(0).gr_name, socket.gethostbyname('localhost'))"
)


def server_run(
    ref: str, base: str, platform: str, mode: str, options: Sequence[str] = ()
) -> dict[str, object]:
    """Start REF as OpenHands' sandbox service does (with `docker run` OPTIONS) and run
    v1_client.py MODE against it (the result, plus what the container shows afterwards);
    the container and its local image copy are removed at once. A failure is kept and
    raised for every reader."""
    key = (ref, platform, mode, tuple(options))
    if key not in _RUNS:
        name = f"oh-v1-{base}-{platform.split('/')[1]}-{uuid.uuid4().hex[:6]}"
        how = " (restricted)" if options else ""
        try:
            t0 = time.monotonic()
            start_server(ref, name, platform, "--port", "8000", options=options, **LAUNCHER)
            with timed(
                f"agent-server on {base}{how} ({platform}): OpenHands client, {mode}"
            ) as fig:
                got = drive(ref, name, 900 if platform.endswith("arm64") else 420, mode)
                fig["ready after"] = f"{got['ready_after_s']} s"
                fig["seconds"] = f"{time.monotonic() - t0:.1f}"
            got["machine"] = in_container(name, "import platform; print(platform.machine())")
            if mode in ("drive", "all"):
                got["agent_file_outside"] = in_container(
                    name, "print(open('/workspace/project/agent-was-here.txt').read())"
                )
            got["bundle_maps_preload"] = in_container(name, PRELOAD_MAPS).strip()
            nss = sh("docker", "exec", name, "/openhands/bin/oh-python", "-c", NSS_LOOKUPS,
                     check=False)  # fmt: skip
            got["nss"] = nss.stdout + nss.stderr[-1000:]
            own = subprocess.run(
                ["docker", "exec", name, "/bin/cat", "/proc/self/maps"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            got["base_maps_preload"] = str("libohpre" in own.stdout)
            _RUNS[key] = got
        except (AssertionError, subprocess.SubprocessError) as e:
            logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
            _RUNS[key] = f"{base} ({platform}, {mode}): {e}\nserver log:\n{logs.stderr[-3000:]}"
        finally:
            image = sh("docker", "inspect", "-f", "{{.Config.Image}}", name, check=False)
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
            subprocess.run(["docker", "rmi", image.stdout.strip()], capture_output=True)
    got = _RUNS[key]
    assert isinstance(got, dict), got
    return got


def base_run(
    v1_baked: dict[str, str], base: str, platform: str = "linux/amd64"
) -> dict[str, object]:
    return server_run(
        v1_baked[BASES[base]], base, platform, "all" if platform == "linux/amd64" else "drive"
    )


@pytest.mark.parametrize(("base", "platform"), CASES)
def test_openhands_client_drives_agent_server(
    v1_baked: dict[str, str], base: str, platform: str
) -> None:
    got = base_run(v1_baked, base, platform)
    machine = str(got["machine"]).strip()
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
    assert got["agent_file_outside"] == "agent-was-here\n\n", got


@pytest.mark.parametrize("base", list(BASES))
def test_openhands_browser_tools_on_every_base(v1_baked: dict[str, str], base: str) -> None:
    """openhands-tools' browser toolset in a V1 conversation, scripted by the fake LLM:
    the page it navigates to is served inside the container and holds a token only it
    has; the token comes back in the tool's observation, and the page state (elements,
    with a screenshot asked for) is not empty."""
    got = base_run(v1_baked, base)["browser"]
    assert isinstance(got, dict)
    results = got["results"]
    assert got["status"].lower().endswith("finished"), got
    assert set(results) == {"navigate", "get_content", "get_state"}, got
    assert got["token"] in results["navigate"] + results["get_content"], got
    state = results["get_state"]
    assert '"text": "more"' in state and "http://127.0.0.1:8765/" in state, got
    # The screenshot the state carried, saved by the server in the container: a PNG.
    assert got["screenshot_head"] == "89504e470d0a1a0a", got


@pytest.mark.parametrize("base", ["debian-bookworm", "busybox"])
def test_agent_server_in_a_restricted_sandbox(
    v1_baked: dict[str, str], base: str, tmp_path: Path
) -> None:
    """The workspace API, an agent loop and the browser tools work under every
    restriction at once; what the agent writes is the sandbox uid's, on the host."""
    workspace = tmp_path / "workspace"
    (workspace / "project").mkdir(parents=True)
    for d in (workspace, workspace / "project"):
        os.chown(d, SANDBOX_UID, SANDBOX_UID)
    options = (*RESTRICTIONS, "-v", f"{workspace}:/workspace")
    got = server_run(v1_baked[BASES[base]], base, "linux/amd64", "all", options)
    assert got["exec"] == {"exit_code": 3, "stdout": "out\n", "stderr": "err\n"}, got
    assert got["pwd_uid"] == f"/workspace/project\n{SANDBOX_UID}\n", got
    assert got["upload_ok"] and got["download_ok"] and got["roundtrip_equal"], got
    agent = got["agent"]
    assert isinstance(agent, dict) and agent["status"].lower().endswith("finished"), agent
    written = workspace / "project" / "agent-was-here.txt"
    assert written.read_text() == "agent-was-here\n" and written.stat().st_uid == SANDBOX_UID
    browser = got["browser"]
    assert isinstance(browser, dict) and browser["status"].lower().endswith("finished"), got
    assert browser["token"] in browser["results"]["navigate"] + browser["results"]["get_content"]


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


ENV_BASE = "127.0.0.1:5000/oh-test/envbase:bookworm"  # sets LD_LIBRARY_PATH, PYTHONHOME, …
# What the agent's shell may have beyond its image config and its launcher's settings:
# what Docker, the shell (and the base's own start-up files: uid1000's ~/.bashrc runs
# dircolors) and tmux set, and what OpenHands' server and tools set (seen on
# an image with the bundle's environment undone; CPython's PEP 538 locale coercion sets
# LC_CTYPE in the server, as in any CPython-based image).
SHELL_OWN = {
    "HOME", "HOSTNAME", "PWD", "OLDPWD", "SHLVL", "_", "SHELL", "PS1", "PS2", "COLUMNS",
    "LINES", "TERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "TMUX", "TMUX_PANE", "LC_CTYPE",
    "LS_COLORS", "PROMPT_COMMAND", "AI_AGENT", "GIT_PAGER", "PAGER", "TMUX_TMPDIR",
    "OH_INTERNAL_SERVER_URL", "BROWSER_USE_LOGGING_LEVEL", "BROWSER_USE_SETUP_LOGGING",
}  # fmt: skip


# Bases that make the bundle's life hard (issue 22), baked for amd64 beside the default
# config: one that sets its own environment, preloads a library and names NSS modules the
# bundle lacks; Debian unstable, whose glibc is newer than the bundle's.
HARD_BASES = {"envbase": ENV_BASE, "sid": "debian:sid"}


@pytest.fixture(scope="session")
def v1_hard_baked(engine: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The default config's runtime images (amd64) for HARD_BASES: deps from the cache
    the default bake left; name -> runtime tag."""
    out = tmp_path_factory.mktemp("v1-hard")
    head = CONFIG.read_text().split("[[bases]]")[0]
    head = head.replace('platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]')
    head = head.replace('app = "profiles/', f'app = "{REPO}/profiles/')
    cfg = out / "builder.toml"
    bases = "".join(f'[[bases]]\nimage = "{i}"\nname = "{n}"\n' for n, i in HARD_BASES.items())
    cfg.write_text(head + bases)
    lock_config(cfg)
    label = "agent-server bake: the hard bases x linux/amd64, --push"
    tags = bake_profile(cfg, label, "bake-agent-server-hard.log", out / "build")
    return {n: tags[i] for n, i in HARD_BASES.items()}


@pytest.mark.parametrize("base", list(HARD_BASES))
def test_hard_bases_drive_and_browse(v1_hard_baked: dict[str, str], base: str) -> None:
    """The workspace API, an agent loop and the browser tools on the hard bases; the
    bundle's Python resolves users, groups and hosts through the base's nsswitch.conf."""
    got = server_run(v1_hard_baked[base], base, "linux/amd64", "all")
    assert got["exec"] == {"exit_code": 3, "stdout": "out\n", "stderr": "err\n"}, got
    assert got["pwd_uid"] == "/workspace/project\n1000\n", got
    agent = got["agent"]
    assert isinstance(agent, dict) and agent["status"].lower().endswith("finished"), agent
    assert got["agent_file_outside"] == "agent-was-here\n\n", got
    browser = got["browser"]
    assert isinstance(browser, dict) and browser["status"].lower().endswith("finished"), got
    assert browser["token"] in browser["results"]["navigate"] + browser["results"]["get_content"]
    assert got["nss"] == "openhands root 127.0.0.1\n", got


@pytest.mark.parametrize("base", [*BASES, *HARD_BASES])
def test_the_agent_sees_the_base_environment(
    v1_baked: dict[str, str], v1_hard_baked: dict[str, str], base: str
) -> None:
    """The agent's terminal (a V1 conversation's terminal tool, through tmux) and the
    workspace's command API see the image's own environment (the base's variables, the
    image's PATH) plus what the launcher and the shell set: none of the bundle's
    (GCONV_PATH, LOCPATH, SSL_CERT_FILE, the wrappers' OH_SET_VARS and OH_SAVED_*, …),
    and every base setting, LD_LIBRARY_PATH, LD_PRELOAD and PYTHONHOME included, as the
    base has it. A library the base preloads (the musl base's by LD_PRELOAD, the
    environment base's by LD_PRELOAD and /etc/ld.so.preload) is in the base's programs,
    never in the bundle's."""
    from tests.e2e.registry import image_config

    if base in HARD_BASES:
        ref = v1_hard_baked[base]
        run = server_run(ref, base, "linux/amd64", "all")
    else:
        ref = v1_baked[BASES[base]]
        run = base_run(v1_baked, base)
    got = run["env"]
    assert isinstance(got, dict) and got["status"].lower().endswith("finished"), got
    config = dict(e.partition("=")[::2] for e in image_config(ref)["config"]["Env"])
    if base == "envbase":
        assert config["LD_LIBRARY_PATH"] == "/opt/base/lib" and "PYTHONHOME" in config, config
    for where in ("terminal", "execute"):
        env = got[where]
        wrong = {k: (env.get(k), v) for k, v in config.items() if env.get(k) != v}
        assert not wrong, f"{where}: the image's settings changed (got, image): {wrong}"
        launched = {k for k in LAUNCHER if not k.startswith("OH_SESSION_API_KEYS_")}
        extra = {k: env[k] for k in env.keys() - config.keys() - launched - SHELL_OWN}
        assert not extra, f"{where}: variables the image does not set: {extra}"
        assert not any(k.startswith("OH_SESSION_API_KEYS_") for k in env), where
    assert run["bundle_maps_preload"] == "False", "the bundle's Python loaded the base's preload"
    if base == "envbase":  # (the musl base's only dynamic program is its hello)
        assert run["base_maps_preload"] == "True", "the base's own programs lost their preload"
