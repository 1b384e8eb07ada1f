"""The app's Poetry project is checked before any build: lock, Python, entrypoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builder.cli import app as cli
from builder.poetry import allows, lock_mismatch, read_toml, release_python
from tests.conftest import REPO, TWO_BASES

PROJECTS = ["app", "profiles/agent-server", "tests/golden/app"]


@pytest.mark.parametrize("project", PROJECTS)
def test_the_repositorys_locks_match_poetrys_content_hash(project: str) -> None:
    d = REPO / project
    assert lock_mismatch(read_toml(d / "pyproject.toml"), read_toml(d / "poetry.lock")) is None


def plan(cfg: Path) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["plan", "-q", "-c", str(cfg), "-o", str(cfg.parent / "b")])
    return r.exit_code, r.output


def test_a_lock_of_another_pyproject_is_refused(
    write_config: Callable[..., Path], app_dir: Path
) -> None:
    cfg = write_config(TWO_BASES)
    pyproject = app_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"uvicorn (>=0.29)",', ""))
    code, out = plan(cfg)
    assert code == 2
    assert out.strip() == (
        f"error: {cfg}: deps.app: {app_dir / 'poetry.lock'} was locked for another "
        f"pyproject.toml (its content-hash differs); run `poetry lock` in {app_dir} and "
        "commit it"
    )
    assert not (cfg.parent / "b").exists()


def test_a_python_the_project_refuses_is_named(
    write_config: Callable[..., Path], app_dir: Path
) -> None:
    pyproject = app_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('">=3.11,<3.14"', '">=3.12,<3.14"'))
    # Keep the lock matching: relocking only changes the content hash.
    from builder.poetry import content_hash

    lock = app_dir / "poetry.lock"
    text = lock.read_text()
    old = read_toml(lock)["metadata"]["content-hash"]
    lock.write_text(text.replace(old, content_hash(read_toml(pyproject))))
    cfg = write_config(TWO_BASES)
    cfg.write_text(cfg.read_text().replace('base = "debian:trixie"', 'base = "debian:bookworm"'))
    code, out = plan(cfg)
    assert code == 2
    assert f"{cfg}: deps.base: debian:bookworm gives the bundle Python 3.11" in out
    assert "requires-python '>=3.12,<3.14'" in out


def test_an_entrypoint_nobody_provides_is_named(
    write_config: Callable[..., Path], app_dir: Path
) -> None:
    cfg = write_config(TWO_BASES)
    cfg.write_text(
        cfg.read_text().replace("browser = true", 'browser = true\nentrypoint = "nope.x"')
    )
    code, out = plan(cfg)
    assert code == 2
    assert f"deps.entrypoint: module 'nope.x': 'nope' is neither in {app_dir}" in out


def test_python_versions() -> None:
    assert release_python("debian:trixie") == (3, 13)
    assert release_python("ubuntu:24.04") == (3, 12)
    assert release_python("127.0.0.1:5000/x/debian:trixie") is None
    assert allows(">=3.12,<3.14", (3, 13)) and not allows(">=3.12,<3.14", (3, 11))
    assert allows("^3.11", (3, 13)) and not allows("~=3.12", (4, 0))
    assert not allows("<3.13", (3, 13)) and allows("!=3.12.*", (3, 13))
