"""Gather everything a build needs (rendered files, context files, hashes) and write
the build directory atomically."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from builder.capabilities import CAPABILITIES
from builder.layers import layer_keys, placeholders
from builder.lockfile import Lock, lock_path, pinned_refs, read_lock
from builder.model import (
    PYTHON_PACKAGES,
    SYSTEM_PACKAGES,
    TOOL_PACKAGES,
    Config,
)
from builder.outdir import EPOCH, ContextFile
from builder.plan import Fingerprint, Plan, Selection, make_plan, select_bases
from builder.render import render_bake, render_dockerfile
from builder.resources import resource_dir
from builder.servers import CAPABILITIES_LABEL, KINDS, SERVER_LABEL
from builder.tags import content_hash, tree_hash
from builder.version import __version__

# Never part of the app's source: caches, bytecode, VCS and virtualenv folders.
_IGNORED_DIRS = {
    "__pycache__",
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    "node_modules",
    "dist",
    "build",
    ".eggs",
}
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
LOCK_FILES = ("pyproject.toml", "poetry.lock")
# What the build never reads from the output directory: generated files, logs, the marker.
DOCKERIGNORE = b"docker-bake.hcl\n*.json\nlogs/\n.oh-builder\n"


@dataclass(frozen=True, kw_only=True)
class Prepared:
    plan: Plan
    files: dict[str, ContextFile]  # relative path in the build directory -> content
    rewrite_timestamp: bool = False  # build.rewrite_timestamp: how run pushes


def _walk(root: Path) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _IGNORED_DIRS and not d.endswith(_IGNORED_SUFFIXES)
        )
        for f in sorted(filenames):
            if f.endswith(_IGNORED_SUFFIXES) or f == ".DS_Store":
                continue
            p = Path(dirpath, f)
            if p.is_file():
                out.append((p.relative_to(root).as_posix(), p))
    return out


def _read(root: Path) -> dict[str, ContextFile]:
    return {
        rel: ContextFile(data=p.read_bytes(), executable=os.access(p, os.X_OK))
        for rel, p in _walk(root)
    }


def system_packages(config: Config) -> list[str]:
    d = config.deps
    return sorted({*SYSTEM_PACKAGES, *(p for t in d.tools for p in TOOL_PACKAGES[t])})


def browser_packages() -> list[str]:
    """The browser layer's packages, and CPython's (what every system layer carries is
    read from them, so that the layer takes only what the core lacks)."""
    return sorted({*CAPABILITIES["browser"].packages, *PYTHON_PACKAGES})


def dockerfile_context(config: Config, deps_base: str) -> dict[str, object]:
    """``deps_base``: the deps base as built on (pinned by the lock)."""
    d = config.deps
    return {
        "system_packages": system_packages(config),
        "python_packages": list(PYTHON_PACKAGES),
        "browser_packages": browser_packages(),
        "version": __version__,
        "deps_base": deps_base,
        "browser": d.browser,
        "tools": list(d.tools),
        "kind": KINDS[d.server],
        "labels": {
            SERVER_LABEL: d.server,
            CAPABILITIES_LABEL: ",".join(d.capabilities),
        },
        "entrypoint": d.entrypoint,
        "poetry_groups": list(d.poetry_groups),
        "epoch": EPOCH,
    }


def keyed_context(
    config: Config,
    deps_base: str,
    lock: dict[str, ContextFile],
    wrappers: dict[str, ContextFile],
    tools: dict[str, ContextFile],
    entrypoint_check: str,
) -> dict[str, object]:
    """The Dockerfiles' context with each bundle layer's key, computed from the stages
    it is built from (builder/layers.py): the deps template rendered once with
    placeholder keys, the keys read off that text and the files its stages read."""
    ctx = {**dockerfile_context(config, deps_base), "entrypoint_check": entrypoint_check}
    inputs = {
        **{f"wrappers/{k}": v for k, v in wrappers.items()},
        **{f"tools/{k}": v for k, v in tools.items()},
        **{f"lock/{k}": v for k, v in lock.items()},
    }
    return ctx | layer_keys(render_dockerfile("deps", **ctx, **placeholders()), inputs)


def readme_placeholders(pyproject: bytes) -> dict[str, ContextFile]:
    """Empty stand-ins for the readme files pyproject.toml declares: `poetry check`
    refuses a project whose declared readme is missing (openhands-ai's), and the deps
    build must not change with the readme's text."""
    try:
        data = tomllib.loads(pyproject.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}  # the deps build's `poetry check` names the problem
    names: list[object] = []
    for table in (data.get("project", {}), data.get("tool", {}).get("poetry", {})):
        readme = table.get("readme") if isinstance(table, dict) else None
        if isinstance(readme, dict):
            readme = readme.get("file")
        names += readme if isinstance(readme, list) else [readme]
    empty = ContextFile(data=b"", executable=False)
    return {
        n: empty
        for n in names
        if isinstance(n, str) and n and not n.startswith("/") and ".." not in n.split("/")
    }


def prepare(
    config: Config,
    selection: Selection,
    *,
    build_dir: str = "build",
    cache_branch: str = "main",
    cache_export: bool = True,
    cache_flavor: str = "",
    lock: Lock | None = None,
) -> Prepared:
    """Everything a bake of ``selection`` needs; bases are pinned by the config's lock
    (``lock``, else the file next to the config), and a base it lacks is a ConfigError."""
    if lock is None:
        lock = read_lock(lock_path(config.path))
    pins = pinned_refs(config, lock, select_bases(config, selection))
    app = _read(config.deps.app)
    # The project files describe the dependencies (the venv layer), not the source: they
    # go to the deps build as lock/, and stay out of the app layer (a profile whose server
    # comes from its locked packages alone has no app layer).
    project = {k: app.pop(k) for k in LOCK_FILES}
    project.update(readme_placeholders(project["pyproject.toml"].data))
    # The app layer's place: /openhands/app, or the seed's /openhands/code for OpenHands
    # V0, which also keeps its pyproject.toml and poetry.lock there (its version is read
    # from that pyproject).
    app_dir = KINDS[config.deps.server].app_dir
    if app and app_dir != "app":
        app = {**project, **app}
    wrappers = _read(resource_dir("wrappers"))
    tools = _read(resource_dir("dockerfiles") / "context")
    deps_base = pins[config.deps.base]
    # The deps check imports the entrypoint unless it is the app's own source (the app
    # layer is not in the deps image).
    top = config.deps.entrypoint.split(".")[0]
    in_app = any(k.split("/")[0] in (top, f"{top}.py") for k in app)
    ctx = keyed_context(
        config, deps_base, project, wrappers, tools, "-" if in_app else config.deps.entrypoint
    )
    deps_df = render_dockerfile("deps", **ctx)
    runtime_df = render_dockerfile("runtime", **ctx, app_source=bool(app))
    deps_parts = {
        "deps.Dockerfile": deps_df.encode(),
        "deps.base": deps_base.encode(),
        "version": __version__.encode(),
        **{f"lock/{k}": v.data for k, v in project.items()},
        **{f"wrappers/{k}{'*' if v.executable else ''}": v.data for k, v in wrappers.items()},
        **{f"tools/{k}": v.data for k, v in tools.items()},
    }
    fingerprint = Fingerprint(
        deps_hash=content_hash(deps_parts),
        source_hash=tree_hash((k, v.data, v.executable) for k, v in app.items()),
        runtime_hash=content_hash({"runtime.Dockerfile": runtime_df.encode()}),
    )
    plan = make_plan(
        config,
        selection,
        fingerprint,
        pins=pins,
        cache_branch=cache_branch,
        cache_export=cache_export,
        cache_flavor=cache_flavor,
    )
    files: dict[str, ContextFile] = {
        "deps.Dockerfile": ContextFile(data=deps_df.encode(), executable=False),
        "runtime.Dockerfile": ContextFile(data=runtime_df.encode(), executable=False),
        ".dockerignore": ContextFile(data=DOCKERIGNORE, executable=False),
        **{f"wrappers/{k}": v for k, v in wrappers.items()},
        **{f"tools/{k}": v for k, v in tools.items()},
        # The app layer laid out as it sits in the image: copied to / (see runtime.Dockerfile).
        **{f"app/openhands/{app_dir}/{k}": v for k, v in app.items()},
        **{f"lock/{k}": v for k, v in project.items()},
    }
    bake = render_bake(
        version=__version__,
        build_dir=build_dir,
        # SOURCE_DATE_EPOCH: image and history timestamps (every builder), and the time
        # rewrite-timestamp clamps layer files to (BuildKit daemons).
        args={"SOURCE_DATE_EPOCH": str(EPOCH), **plan.args},
        deps=plan.deps,
        runtime=plan.runtime,
        default_targets=[d.name for d in plan.deps[:1]] + (["runtime"] if plan.runtime else []),
    )
    files["docker-bake.hcl"] = ContextFile(data=bake.encode(), executable=False)
    return Prepared(plan=plan, files=files, rewrite_timestamp=config.build.rewrite_timestamp)
