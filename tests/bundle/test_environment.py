"""The wrappers' environment bookkeeping and its undoing, run for real on the host: oh-env.sh and
oh-restore.sh with the host's bash, the venv's start-up hook in this Python."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
SHARE = REPO / "wrappers/share"
BASE = {
    "PATH": "/usr/bin:/bin",
    "LD_LIBRARY_PATH": "/opt/base/lib",
    "PYTHONHOME": "/opt/base/python",
    "SSL_CERT_FILE": "/etc/ssl/base/ca.pem",
    "SHELL": "/bin/zsh",
    "TZ": "Europe/Paris",
}
BASH_OWN = {"PWD", "SHLVL", "_", "OLDPWD"}


def bash_env_output(run: subprocess.CompletedProcess[bytes]) -> dict[str, str]:
    pairs = (e.partition("=") for e in run.stdout.decode().split("\0") if e)
    return {k: v for k, _, v in pairs if k not in BASH_OWN}


def bash_env(script: str, env: dict[str, str]) -> dict[str, str]:
    return bash_env_output(
        subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", f"{script}\nenv -0"],
            env=env,
            capture_output=True,
            check=True,
        )
    )


def wrapped(extra: str = "") -> str:
    """What a wrapper does (nested twice, as oh-bash under oh-tmux), then what the
    bundle's shell does before the agent's commands."""
    env = f". {SHARE}/oh-env.sh"
    outer = f"{env}\noh_set SHELL /x/oh-tmux-shell\noh_keep KEPT /x/kept"
    return f"{outer}\n{env}\noh_set BASH_ENV /x\n{extra}"


def test_a_wrapper_records_what_it_changes() -> None:
    got = bash_env(wrapped(), BASE)
    assert "LD_LIBRARY_PATH" not in got and "PYTHONHOME" not in got
    assert got["SSL_CERT_FILE"] == "/etc/ssl/base/ca.pem", "the base's CA bundle is kept"
    assert got["OH_SAVED_LD_LIBRARY_PATH"] == "/opt/base/lib"
    assert got["OH_SAVED_SHELL"] == "/bin/zsh" and got["SHELL"] == "/x/oh-tmux-shell"
    assert got["GCONV_PATH"] == "/openhands/usr/lib/gconv"
    assert got["OH_SET_VARS"].split().count("SHELL") == 1
    assert got["KEPT"] == "/x/kept" and got["OH_KEEP_VARS"] == "KEPT"


def test_the_shell_gets_the_container_environment_back() -> None:
    assert bash_env(wrapped(f". {SHARE}/oh-restore.sh"), BASE) == BASE
    bare = {"PATH": "/usr/bin:/bin"}
    assert bash_env(wrapped(f". {SHARE}/oh-restore.sh"), bare) == bare


HOOK = REPO / "dockerfiles/context/oh_env_hook.py"
CHILD = """
import importlib.util, json, os, subprocess, sys
spec = importlib.util.spec_from_file_location("_oh_env", sys.argv[1])
hook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hook)  # what _oh_env.pth does in the venv
hook.ROOT = sys.argv[2]
own = subprocess.run([sys.argv[3], "-0"], capture_output=True, check=True).stdout
base = subprocess.run(["env", "-0"], capture_output=True, check=True).stdout
print(json.dumps({"self": dict(os.environ), "own": own.decode(), "base": base.decode()}))
"""


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_oh_env_test", HOOK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not started by a wrapper here: it changes nothing
    return module


def test_the_venv_hook_restores_and_keeps_the_bundle_for_its_own(tmp_path: Path) -> None:
    """A Python started by a wrapper: its own environment and what a base program gets
    are the container's; a native program of the bundle (here: a copy of env(1) under
    a stand-in root) gets the wrapper's."""
    wrapper_env = bash_env(wrapped(), BASE)
    own_env = tmp_path / "env"
    shutil.copy2("/usr/bin/env", own_env)
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(HOOK), f"{tmp_path}/", str(own_env)],
        env=wrapper_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)

    def parse(out: str) -> dict[str, str]:
        pairs = (e.partition("=") for e in out.split("\0") if e)
        return {k: v for k, _, v in pairs if k not in BASH_OWN}

    # What the process reads while it runs stays (OH_KEEP_VARS); a base program gets
    # the base's environment exactly.
    assert {k: v for k, v in got["self"].items() if k not in ("LC_CTYPE",)} == {
        **BASE,
        "KEPT": "/x/kept",
    }
    assert parse(got["base"]) == {k: v for k, v in got["self"].items() if k != "KEPT"}
    own = parse(got["own"])
    assert "LD_LIBRARY_PATH" not in own and "PYTHONHOME" not in own
    assert own["OH_SAVED_PYTHONHOME"] == "/opt/base/python"
    assert own == {**wrapper_env, **{k: v for k, v in got["self"].items() if k not in BASE}}


EXEC_CHILD = """
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("_oh_env", sys.argv[1])
hook = importlib.util.module_from_spec(spec)
hook.ROOT = sys.argv[2]
spec.loader.exec_module(hook)
hook.ROOT = sys.argv[2]
os.execvp(sys.argv[3], [sys.argv[3], "-0"])  # as jupyter runs its subcommands
"""


def test_the_venv_hook_keeps_the_bundle_for_its_own_through_exec(tmp_path: Path) -> None:
    """What the process replaces itself with by os.exec* (jupyter's `jupyter
    kernelgateway`) gets what a subprocess would: a native program of the bundle the
    wrapper's environment (never the base's LD_PRELOAD), a base program the base's."""
    wrapper_env = bash_env(wrapped(), {**BASE, "LD_PRELOAD": "/opt/base/lib/libohpre.so"})
    own_env = tmp_path / "env"
    shutil.copy2("/usr/bin/env", own_env)

    def run(program: str) -> dict[str, str]:
        r = subprocess.run(
            [sys.executable, "-c", EXEC_CHILD, str(HOOK), f"{tmp_path}/", program],
            env=wrapper_env,
            capture_output=True,
            check=True,
        )
        return bash_env_output(r)

    own = run(str(own_env))
    assert "LD_PRELOAD" not in own and own["OH_SAVED_LD_PRELOAD"] == "/opt/base/lib/libohpre.so"
    assert own["GCONV_PATH"] == wrapper_env["GCONV_PATH"]
    base = run("env")
    assert base["LD_PRELOAD"] == "/opt/base/lib/libohpre.so" and "GCONV_PATH" not in base
    assert not any(k.startswith("OH_") for k in base), base


def test_the_hook_names_the_bundle_programs(tmp_path: Path) -> None:
    hook = load_hook()
    hook.ROOT = f"{tmp_path}/"
    (tmp_path / "bin").mkdir()
    script = tmp_path / "bin/oh-tool"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (tmp_path / "fallback").mkdir()
    (tmp_path / "fallback/tool").symlink_to(script)
    assert hook.is_bundled(str(script), {})
    assert hook.is_bundled("tool", {"PATH": f"/nonexistent:{tmp_path}/fallback"})
    assert not hook.is_bundled("tool", {"PATH": "/nonexistent"})
    assert not hook.is_bundled("/bin/sh", {})


def bundle_copy(root: Path) -> Path:
    """The wrappers' shell files under a stand-in for /openhands, with the host's bash and
    busybox as the bundle's."""
    for sub in ("bin", "share", "usr/bin"):
        (root / sub).mkdir(parents=True)
    (root / "usr/bin/bash").symlink_to(shutil.which("bash") or "/bin/bash")
    busybox = shutil.which("busybox")
    assert busybox, "no busybox on this host: `make host-tools` installs busybox-static"
    (root / "usr/bin/busybox").symlink_to(busybox)
    files = [(REPO / "wrappers/bin/oh-bash", "bin"), *((f, "share") for f in SHARE.iterdir())]
    for src, dest in files:
        text = src.read_text().replace("/openhands", str(root))
        (root / dest / src.name).write_text(text)
        (root / dest / src.name).chmod(0o755)
    return root / "bin/oh-bash"


def interactive_env(oh_bash: Path, args: list[str], home: Path) -> dict[str, str]:
    """The environment the commands of an interactive bundle bash get (`-i`, commands
    on stdin, as a terminal's would be)."""
    run = subprocess.run(
        [str(oh_bash), *args, "-i"],
        input=b"env -0\n",
        env={**BASE, "HOME": str(home)},
        capture_output=True,
        check=True,
    )
    got = bash_env_output(run)
    got.pop("HOME")
    return got


def test_the_bundle_bash_restores_whatever_start_up_files_it_is_asked_for(tmp_path: Path) -> None:
    """oh-bash restores the container's environment for an interactive shell with bash's
    default start-up files (~/.bashrc), with the caller's --rcfile, and with --norc (the
    sample server's tmux shell): a caller's option never lets the bundle's settings
    through."""
    oh_bash = bundle_copy(tmp_path / "oh")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("export FROM_BASHRC=1\n")
    rcfile = tmp_path / "rc"
    rcfile.write_text("export FROM_RCFILE=1\n")
    assert interactive_env(oh_bash, [], home) == {**BASE, "FROM_BASHRC": "1"}
    assert interactive_env(oh_bash, ["--rcfile", str(rcfile)], home) == {**BASE, "FROM_RCFILE": "1"}
    assert interactive_env(oh_bash, ["--noprofile", "--norc"], home) == BASE


def test_the_wrappers_interpreter_keeps_the_base_preload_from_the_bundle_bash(
    tmp_path: Path,
) -> None:
    """A wrapper's #! interpreter (oh-shebang, static busybox: no loader runs yet) moves a
    base's LD_PRELOAD aside before the bash running the wrapper starts (the loader would
    report a library it cannot load, or stop); the commands get the base's value back."""
    oh_bash = bundle_copy(tmp_path / "oh")
    run = subprocess.run(
        [str(oh_bash), "-c", 'echo "$LD_PRELOAD $SHLVL"'],  # builtins: no loader runs
        env={**BASE, "LD_PRELOAD": "/nonexistent/libohpre.so"},
        capture_output=True,
        text=True,
    )
    assert (run.stdout, run.stderr) == ("/nonexistent/libohpre.so 1\n", "")


AGENT_CHILD = """
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("_oh_env", sys.argv[1])
hook = importlib.util.module_from_spec(spec)
sys.modules["_oh_env"] = hook
spec.loader.exec_module(hook)  # what _oh_env.pth does in the venv
from action_server.envclean import agent_environment
print(json.dumps({"self": dict(os.environ), "agent": agent_environment(os.environ)}))
"""


def test_the_sample_app_gives_its_shell_the_base_environment() -> None:
    """The sample server keeps what it reads (OH_KEEP_VARS) in its own environment, but
    the shell tmux starts for the agent (no subprocess in between) gets the base's
    values: unset where the base has none, the base's own where it has one."""
    for base in (BASE, {**BASE, "KEPT": "/base/kept"}):
        run = subprocess.run(
            [sys.executable, "-c", AGENT_CHILD, str(HOOK)],
            env={**bash_env(wrapped(), base), "OH_SESSION_API_KEY": "secret"},
            cwd=REPO / "app",
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        got = json.loads(run.stdout)
        assert got["self"]["KEPT"] == "/x/kept"
        agent = {k: v for k, v in got["agent"].items() if k != "LC_CTYPE"}
        assert agent == base


def v0_args(args: list[str], uid: int | None, passwd: Path) -> tuple[list[str], str]:
    """oh-v0-user.sh's oh_v0_args with the host's bash, as ``uid`` (None: root)."""
    script = (
        f". {SHARE}/oh-env.sh; OH_PASSWD={passwd}; . {SHARE}/oh-v0-user.sh; "
        'oh_v0_args micromamba "$@"; '
        'printf "%s\\n" "${OH_V0_ARGS[@]}" "USER=${USER:-}"'
    )
    cmd = ["bash", "--norc", "--noprofile", "-c", script, "bash", *args]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
    env = {"PATH": "/usr/bin:/bin"}
    run = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return run.stdout.splitlines(), run.stderr


def test_v0_as_an_arbitrary_uid_runs_the_agent_as_that_uid() -> None:
    """DockerRuntime asks for --username openhands --user-id 1000; started as 4242, V0 is
    given a user of that uid (V0 then gives the agent's files to 4242, as it may)."""
    # Readable by the uids the test runs as (pytest's tmp_path is root's alone).
    fd, name = tempfile.mkstemp(dir="/tmp", prefix="oh-passwd-")
    os.close(fd)
    passwd = Path(name)
    passwd.write_text(
        "root:x:0:0::/root:/bin/bash\nopenhands:x:1000:1000::/home/openhands:/bin/bash\n"
    )
    passwd.chmod(0o644)
    args = ["run", "python", "-m", "x", "--username", "openhands", "--user-id", "1000"]
    assert v0_args(args, None, passwd) == ([*args, "USER="], "")
    assert v0_args(args, 1000, passwd) == ([*args, "USER="], "")  # the image's openhands
    got, said = v0_args(args, 4242, passwd)
    assert got == [*args[:5], "uid4242", "--user-id", "4242", "USER=uid4242"]
    assert said.splitlines() == [
        "micromamba: started as uid 4242, not as 'openhands': V0 runs the agent as uid4242"
        " (uid 4242), whose files are its own"
    ]
    passwd.unlink()
