"""Shared fixtures: config files written into tmp_path."""

from __future__ import annotations

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


@pytest.fixture
def write_config(tmp_path: Path, app_dir: Path) -> Callable[[str], Path]:
    def write(bases: str, *, head: str = BASE_CONFIG) -> Path:
        path = tmp_path / "builder.toml"
        path.write_text(head + "\n" + textwrap.dedent(bases))
        return path

    return write
