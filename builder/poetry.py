"""Checks of the app's Poetry project that can be made before any build starts.

- ``poetry.lock`` must belong to ``pyproject.toml``: its ``content-hash`` is the one
  Poetry (2.x) computes over the relevant parts of pyproject (``Locker._get_content_hash``:
  [project] requires-python/dependencies/optional-dependencies, [dependency-groups],
  [tool.poetry] dependencies/source/extras/dev-dependencies/group).
- The bundle's Python (the python3 of ``deps.base``'s Debian or Ubuntu release) must be
  one ``requires-python`` allows.
- The entrypoint's top-level module must be in the app's source or plausibly in one of
  its locked packages.
"""

from __future__ import annotations

import json
import re
import tomllib
from hashlib import sha256
from pathlib import Path
from typing import Any

from builder.refs import parse_image_ref

_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")
_RELEVANT_KEYS = (*_LEGACY_KEYS, "group")
_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")

# python3 of the releases a deps base can be (Debian, Ubuntu): what the bundle runs.
PYTHON_OF_RELEASE = {
    "bookworm": (3, 11),
    "12": (3, 11),
    "trixie": (3, 13),
    "13": (3, 13),
    "jammy": (3, 10),
    "22.04": (3, 10),
    "noble": (3, 12),
    "24.04": (3, 12),
}


def content_hash(pyproject: dict[str, Any], *, with_dependency_groups: bool = True) -> str:
    """Poetry's content hash of a parsed pyproject.toml."""
    project = pyproject.get("project", {})
    groups = pyproject.get("dependency-groups", {}) if with_dependency_groups else {}
    tool_poetry = pyproject.get("tool", {}).get("poetry", {})
    relevant_project = {k: project[k] for k in _PROJECT_KEYS if project.get(k) is not None}
    relevant_poetry: dict[str, Any] = {}
    for key in _RELEVANT_KEYS:
        data = tool_poetry.get(key)
        if data is None and (key not in _LEGACY_KEYS or relevant_project or groups):
            continue
        relevant_poetry[key] = data
    relevant: dict[str, Any] = {}
    if relevant_project:
        relevant["project"] = relevant_project
    if groups:
        relevant["dependency-groups"] = groups
    if relevant:
        relevant["tool"] = {"poetry": relevant_poetry}
    else:
        relevant = relevant_poetry
    return sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def lock_mismatch(pyproject: dict[str, Any], lock: dict[str, Any]) -> str | None:
    """Why poetry.lock does not belong to pyproject.toml, or None when it does."""
    locked = lock.get("metadata", {}).get("content-hash")
    if not isinstance(locked, str):
        return "has no [metadata] content-hash"
    if locked in (content_hash(pyproject), content_hash(pyproject, with_dependency_groups=False)):
        return None
    return "was locked for another pyproject.toml (its content-hash differs)"


def release_python(image: str) -> tuple[int, int] | None:
    """The python3 version of ``debian:SUITE``/``ubuntu:RELEASE`` (None: not known)."""
    try:
        ref = parse_image_ref(image)
    except ValueError:
        return None
    if ref.path.removeprefix("library/") not in ("debian", "ubuntu") or not ref.tag:
        return None
    return PYTHON_OF_RELEASE.get(re.sub(r"-slim$", "", ref.tag))


def allows(spec: str, version: tuple[int, int]) -> bool:
    """Whether a specifier set such as ``>=3.12,<3.14`` (or Poetry's ``^3.12``) admits
    Python X.Y; a clause it cannot read is taken to admit it."""
    for clause in (c.strip() for c in spec.replace("^", "~=").split(",") if c.strip()):
        m = re.fullmatch(r"(~=|===?|!=|<=|>=|<|>)\s*(\d+)(?:\.(\d+))?(?:\.(?:\d+|\*))*", clause)
        if m is None:
            continue
        op, want = m.group(1), (int(m.group(2)), int(m.group(3) or 0))
        ok = {
            "~=": version >= want and version[0] == want[0],
            "==": version == want,
            "===": version == want,
            "!=": version != want,
            "<=": version <= want,
            ">=": version >= want,
            "<": version < want,
            ">": version >= want,  # 3.12.1 > 3.12
        }[op]
        if not ok:
            return False
    return True


def read_toml(path: Path) -> dict[str, Any]:
    """Parsed TOML, or ValueError with the reason."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(str(exc)) from None


def module_candidates(lock: dict[str, Any]) -> set[str]:
    """Top-level module names the locked packages plausibly provide (name-based)."""
    out: set[str] = set()
    for p in lock.get("package", []):
        name = str(p.get("name", "")).lower().replace("-", "_").replace(".", "_")
        if name:
            out.add(name)
            out.add(name.split("_")[0])
    return out
