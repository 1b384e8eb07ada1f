"""Shared fixtures: config files written into tmp_path."""

from __future__ import annotations

import hashlib
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

BASE_CONFIG = """\
[build]
platforms = ["linux/amd64", "linux/arm64"]

[registry]
runtime = "127.0.0.1:5000/openhands/runtime"
deps = "127.0.0.1:5000/openhands/runtime-deps"
cache = "127.0.0.1:5000/openhands/runtime-cache"

[deps]
base = "debian:trixie"
app = "app"
browser = true

[labels]
"org.opencontainers.image.source" = "https://example.invalid/repo"
"""

# Two bases: one with the default platforms, one with a platform subset.
TWO_BASES = """
[[bases]]
image = "debian:bookworm"

[[bases]]
image = "127.0.0.1:5000/oh-test/busybox:static"
name = "busybox"
platforms = ["linux/amd64"]
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A copy of the sample app's Poetry files next to the config."""
    app = tmp_path / "app"
    (app / "action_server").mkdir(parents=True)
    for f in ("pyproject.toml", "poetry.lock"):
        shutil.copy(REPO / "app" / f, app / f)
    (app / "action_server" / "__init__.py").write_text('__version__ = "0"\n')
    return app


def fake_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def write_fake_lock(config_path: Path) -> Path:
    """A lock for every image of the config: digests made from the reference (what a
    registry would answer is irrelevant to planning; the e2e suite locks for real)."""
    from builder.config import load_config
    from builder.lockfile import LockEntry, lock_path, locked_images, render_lock, write_lock

    config = load_config(config_path)
    entries = {
        image: LockEntry(
            digest=fake_digest(image),
            platforms={p: fake_digest(f"{image} {p}") for p in ("linux/amd64", "linux/arm64")},
        )
        for image in locked_images(config)
    }
    path = lock_path(config_path)
    write_lock(path, render_lock(config_path.name, entries))
    return path


@pytest.fixture
def write_config(tmp_path: Path, app_dir: Path) -> Callable[..., Path]:
    """Write a config (and, unless lock=False, a lock with made-up digests next to it)."""

    def write(bases: str, *, head: str = BASE_CONFIG, lock: bool = True) -> Path:
        path = tmp_path / "builder.toml"
        path.write_text(head + "\n" + textwrap.dedent(bases))
        if lock:
            try:
                write_fake_lock(path)
            except Exception:  # a config the test expects to be rejected: no lock
                lock_path = path.with_suffix(".lock")
                lock_path.unlink(missing_ok=True)
        return path

    return write
