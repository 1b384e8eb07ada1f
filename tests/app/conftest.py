"""The action server on the host, against a real tmux and a real Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from action_server.server import create_app
from action_server.shell import Shell

from tests.app.client import Client


@pytest.fixture(scope="session", autouse=True)
def _host_tools() -> None:
    missing = [t for t in ("tmux", "chromium") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing on the host: {', '.join(missing)}; run 'make host-tools'")
    os.environ.setdefault("OH_CHROMIUM", shutil.which("chromium") or "")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "workspace"
    d.mkdir()
    return d


@pytest.fixture
def client(workdir: Path) -> Iterator[Client]:
    """The real server (uvicorn) on a free loopback port, with a real tmux shell."""
    shell = Shell(str(workdir))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(str(workdir), shell=shell), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield Client(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(10)
    shell.close()
