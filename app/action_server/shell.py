"""One persistent bash session inside tmux: `cd` and `export` persist between commands.

Each command is written to a file and sourced by the session's shell with its output
redirected to a file, then its exit status is written next to it. That gives exact
output bytes and exit codes while the shell (and its state) lives on in tmux, where a
person can attach to it. On timeout the command gets Ctrl-C; the shell survives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from action_server.envclean import agent_environment

MAX_OUTPUT = 1_000_000
SESSION = "oh"


def _tmux_binary() -> str:
    for candidate in (os.environ.get("OH_TMUX"), "/openhands/bin/oh-tmux", shutil.which("tmux")):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("no tmux found (set OH_TMUX)")


def _python_binary() -> str:
    """The Python that runs the launcher in tmux's window. tmux's default-shell gives the
    window the container's environment (a base's LD_PRELOAD included): in an image that
    is the bundle's wrapper, which keeps it from the bundle's Python."""
    wrapper = "/openhands/bin/oh-python"
    return wrapper if Path(wrapper).exists() else sys.executable


def _shell_binary() -> str:
    for candidate in (os.environ.get("OH_SHELL"), "/bin/bash", "/openhands/fallback/bin/bash"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("no bash found (set OH_SHELL)")


@dataclass
class Result:
    exit_code: int
    output: str
    timed_out: bool
    truncated: bool


class Shell:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.lock = threading.Lock()
        self.dir = Path(tempfile.mkdtemp(prefix="oh-shell-"))
        self.socket = str(self.dir / "tmux.sock")
        self.tmux = _tmux_binary()
        self.started = False

    def _tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.tmux, "-S", self.socket, *args], capture_output=True, text=True, check=False
        )

    def alive(self) -> bool:
        return self._tmux("has-session", "-t", SESSION).returncode == 0

    def run(self, command: str, timeout: float) -> Result:
        with self.lock:
            if not self.started or not self.alive():
                self._start()
            return self._run(command, timeout)

    def _start(self) -> None:
        env_file = self.dir / "env.json"
        env_file.write_text(json.dumps(agent_environment(os.environ)))
        # The shell starts from the container's own environment, not tmux's or ours.
        launcher = (
            "import json, os, sys; os.chdir(sys.argv[2]); "
            "os.execve(sys.argv[3], sys.argv[3:], json.load(open(sys.argv[1])))"
        )
        cmd = [
            _python_binary(),
            "-I",
            "-c",
            launcher,
            str(env_file),
            self.workdir,
            _shell_binary(),
            "--noprofile",
            "--norc",
        ]
        self._tmux("kill-server")
        r = self._tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            "200",
            "-y",
            "50",
            " ".join(_quote(c) for c in cmd),
        )
        if r.returncode != 0:
            raise RuntimeError(f"tmux new-session failed: {r.stderr.strip()}")
        self.started = True
        self._run("export PS1='$ '; unset HISTFILE", 15)

    def _run(self, command: str, timeout: float) -> Result:
        cid = uuid.uuid4().hex
        script, out, rc = (self.dir / f"{cid}.sh", self.dir / f"{cid}.out", self.dir / f"{cid}.rc")
        script.write_text(command + "\n")
        # Shell builtins only: the base image may have no coreutils at all.
        line = f". {script} >{out} 2>&1 </dev/null; echo $? >{rc}"
        self._tmux("send-keys", "-t", SESSION, "-l", line)
        self._tmux("send-keys", "-t", SESSION, "Enter")
        deadline = time.monotonic() + timeout
        probe = time.monotonic() + 1
        timed_out = exited = False
        while not _complete(rc):
            now = time.monotonic()
            if now > deadline and not timed_out:
                timed_out = True
                self._tmux("send-keys", "-t", SESSION, "C-c")
                deadline = now + 5
            elif timed_out and now > deadline:
                break  # the shell did not come back; report what we have
            elif now > probe:  # a shell that could not start (or exited) says so at once
                probe = now + 1
                if not self.alive() and not _complete(rc):
                    exited = True
                    break
            time.sleep(0.02)
        code = int(rc.read_text().strip()) if _complete(rc) else -1
        data = out.read_bytes() if out.exists() else b""
        if exited and not data:
            data = b"the shell exited before the command finished (tmux session ended)\n"
        for f in (script, out, rc):
            f.unlink(missing_ok=True)
        truncated = len(data) > MAX_OUTPUT
        text = data[:MAX_OUTPUT].decode("utf-8", errors="replace")
        return Result(exit_code=code, output=text, timed_out=timed_out, truncated=truncated)

    def close(self) -> None:
        self._tmux("kill-server")
        shutil.rmtree(self.dir, ignore_errors=True)


def _complete(rc: Path) -> bool:
    """The status file is written by one `echo`; it is complete once it ends in a newline."""
    try:
        return rc.read_text().endswith("\n")
    except FileNotFoundError:
        return False


def _quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"
