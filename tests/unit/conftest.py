"""Unit tests never reach a real engine: subprocess and python-on-whales are blocked."""

from __future__ import annotations

import subprocess

import pytest


class RealProcessBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _block_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    def blocked(*args: object, **kwargs: object) -> None:
        raise RealProcessBlocked(f"unit tests must not run processes: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", blocked)
    monkeypatch.setattr(subprocess, "run", blocked)
