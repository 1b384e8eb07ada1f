"""Which failed container starts are runc's transient init failure (started again)."""

from __future__ import annotations

from builder.engine import runc_init_flake

SEEN_IN_CI = (
    "docker: Error response from daemon: failed to create task for container: failed to create "
    "shim task: OCI runtime create failed: runc create failed: unable to start container "
    "process: waiting for init preliminary setup: read init-p: connection reset by peer: unknown"
)
EXEC_MISSING = (
    "docker: Error response from daemon: failed to create task for container: failed to create "
    "shim task: OCI runtime create failed: runc create failed: unable to start container "
    'process: exec: "/openhands/bin/oh-python": stat /openhands/bin/oh-python: no such file'
)


def test_the_ci_flake_is_transient() -> None:
    assert runc_init_flake(125, SEEN_IN_CI)


def test_a_missing_program_is_not_retried() -> None:
    assert not runc_init_flake(125, EXEC_MISSING)


def test_a_failing_program_is_not_retried() -> None:
    assert not runc_init_flake(1, SEEN_IN_CI)
