"""The scale tests run on the e2e suite's engine: its fixtures, and a second runner."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import engine, sh

__all__ = ["engine", "runner2"]

RUNNER2 = os.environ.get("OH_E2E_RUNNER2", "oh-runner2")


@pytest.fixture(scope="session")
def runner2(engine: None) -> str:
    """A second BuildKit daemon with state of its own (`make test-scale` starts it), its
    build cache emptied: a runner that shares nothing with the first but the registry."""
    r = sh("docker", "buildx", "inspect", "--bootstrap", RUNNER2, check=False)
    if r.returncode != 0:
        pytest.fail(f"no builder {RUNNER2}: `make test-scale` starts it ({r.stderr.strip()})")
    sh("docker", "buildx", "prune", "-af", "--builder", RUNNER2)
    return RUNNER2
