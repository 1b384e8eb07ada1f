"""Where the templates and wrapper scripts live: the repo checkout or the installed wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``dockerfiles``, ``bake`` or ``wrappers``."""
    for candidate in (_PKG / "_resources" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"oh-builder resource directory {name!r} is missing")
