"""The scale tests run on the e2e suite's engine: its fixtures, and a second runner."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import engine, pytest_terminal_summary, sh

__all__ = ["engine", "pytest_terminal_summary", "runner2"]

RUNNER2 = os.environ.get("OH_E2E_RUNNER2", "oh-runner2")
# Where `make runner2` keeps it (Makefile): its state (pid file), socket and log.
RUNNER2_ENV = {
    "OH_ENGINE_DIR": f"/var/lib/oh-builder-engine/{RUNNER2}",
    "OH_BUILDKITD_RUN_DIR": f"/run/oh-builder/{RUNNER2}",
    "OH_ENGINE_LOG_DIR": f"/var/log/oh-builder/{RUNNER2}",
    "OH_BUILDKITD_BUILDER": RUNNER2,
}


@pytest.fixture(scope="session")
def runner2(engine: None) -> str:
    """A second BuildKit daemon with state of its own (`make test-scale` starts it), its
    build cache emptied: a runner that shares nothing with the first but the registry."""
    r = sh("docker", "buildx", "inspect", "--bootstrap", RUNNER2, check=False)
    if r.returncode != 0:
        pytest.fail(f"no builder {RUNNER2}: `make test-scale` starts it ({r.stderr.strip()})")
    sh("docker", "buildx", "prune", "-af", "--builder", RUNNER2)
    return RUNNER2
