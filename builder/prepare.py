"""Gather everything a build needs (rendered files, context files, hashes) and write
the build directory atomically."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from builder import __version__
from builder.errors import OutputError
from builder.model import (
    APP_DIRS,
    BROWSER_PACKAGES,
    PYTHON_PACKAGES,
    SYSTEM_PACKAGES,
    TOOL_PACKAGES,
    Config,
)
from builder.plan import Fingerprint, Plan, Selection, make_plan
from builder.render import render_bake, render_dockerfile
from builder.resources import resource_dir
from builder.tags import content_hash, tree_hash

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
_EPOCH = 1_700_000_000  # the fixed mtime of every file in the bundle's layers


@dataclass(frozen=True, kw_only=True)
class ContextFile:
    data: bytes
    executable: bool


@dataclass(frozen=True, kw_only=True)
class Prepared:
    plan: Plan
    files: dict[str, ContextFile]  # relative path in the build directory -> content


def content_mtime(data: bytes) -> int:
    """The mtime a context file gets: a function of its content alone.

    COPY keeps mtimes, so they must not depend on the machine or the checkout time (else
    the app layer differs per machine). One fixed mtime for every file is wrong, though:
    BuildKit's incremental context transfer takes a file of the same size and mtime as
    the copy it already has to be unchanged, so an edit that keeps the size (a version
    bump in poetry.lock) reached the build as the old file. Derived from the content,
    an edited file gets another mtime, and the same file the same one everywhere.
    """
    return _EPOCH - int.from_bytes(hashlib.sha256(data).digest()[:4], "big") % (1 << 28)


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
    packages = [*SYSTEM_PACKAGES, *(p for t in d.tools for p in TOOL_PACKAGES[t])]
    if d.browser:
        packages += BROWSER_PACKAGES
    return sorted(set(packages))


def dockerfile_context(config: Config) -> dict[str, object]:
    d = config.deps
    return {
        "system_packages": system_packages(config),
        "python_packages": list(PYTHON_PACKAGES),
        "version": __version__,
        "deps_base": d.base,
        "browser": d.browser,
        "tools": list(d.tools),
        "server": d.server,
        "entrypoint": d.entrypoint,
        "poetry_groups": list(d.poetry_groups),
        "epoch": _EPOCH,
    }


# The tools each layer's build runs (a marker key covers exactly these).
_VENV_TOOLS = ("debs.py", "wheels.py", "elfinfo.py", "relocate.py")


def layer_keys(
    config: Config,
    lock: dict[str, ContextFile],
    wrappers: dict[str, ContextFile],
    tools: dict[str, ContextFile],
) -> dict[str, str]:
    """A key per bundle layer: a hash of that layer's inputs and nothing else, so a lock
    change keys the venv layer alone and a tool-list change the system layer alone."""
    d = config.deps
    common = {
        "template": (resource_dir("dockerfiles") / "deps.Dockerfile.j2").read_bytes(),
        "version": __version__.encode(),
        "deps.base": d.base.encode(),
        "python": " ".join(PYTHON_PACKAGES).encode(),
        "epoch": str(_EPOCH).encode(),
    }
    venv = {
        **common,
        **{f"lock/{k}": v.data for k, v in lock.items()},
        **{f"tools/{k}": tools[k].data for k in _VENV_TOOLS if k in tools},
        "options": f"{d.entrypoint} {d.browser} {d.poetry_groups}".encode(),
    }
    system = {
        **common,
        **{f"wrappers/{k}{'*' if v.executable else ''}": v.data for k, v in wrappers.items()},
        **{f"tools/{k}": v.data for k, v in tools.items()},
        "packages": " ".join(system_packages(config)).encode(),
        "options": f"{d.tools} {d.browser}".encode(),
    }
    setup = {**common, "setup.sh": wrappers["share/setup.sh"].data}
    return {
        "venv_key": content_hash(venv),
        "system_key": content_hash(system),
        "setup_key": content_hash(setup),
    }


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
) -> Prepared:
    app = _read(config.deps.app)
    # The project files describe the dependencies (the venv layer), not the source: they
    # go to the deps build as lock/, and stay out of the app layer (a profile whose server
    # comes from its locked packages alone has no app layer).
    lock = {k: app.pop(k) for k in LOCK_FILES}
    lock.update(readme_placeholders(lock["pyproject.toml"].data))
    # The app layer's place: /openhands/app, or the seed's /openhands/code for OpenHands
    # V0, which also keeps its pyproject.toml and poetry.lock there (its version is read
    # from that pyproject).
    app_dir = APP_DIRS.get(config.deps.server, "app")
    if app and app_dir != "app":
        app = {**lock, **app}
    wrappers = _read(resource_dir("wrappers"))
    tools = _read(resource_dir("dockerfiles") / "context")
    ctx = {**dockerfile_context(config), **layer_keys(config, lock, wrappers, tools)}
    # The deps check imports the entrypoint unless it is the app's own source (the app
    # layer is not in the deps image).
    top = config.deps.entrypoint.split(".")[0]
    in_app = any(k.split("/")[0] in (top, f"{top}.py") for k in app)
    ctx["entrypoint_check"] = "-" if in_app else config.deps.entrypoint
    deps_df = render_dockerfile("deps", **ctx)
    runtime_df = render_dockerfile("runtime", **ctx, app_source=bool(app))
    deps_parts = {
        "deps.Dockerfile": deps_df.encode(),
        "deps.base": config.deps.base.encode(),
        "version": __version__.encode(),
        **{f"lock/{k}": v.data for k, v in lock.items()},
        **{f"wrappers/{k}{'*' if v.executable else ''}": v.data for k, v in wrappers.items()},
        **{f"tools/{k}": v.data for k, v in tools.items()},
    }
    fingerprint = Fingerprint(
        deps_hash=content_hash(deps_parts),
        source_hash=tree_hash((k, v.data, v.executable) for k, v in app.items()),
        runtime_hash=content_hash({"runtime.Dockerfile": runtime_df.encode()}),
    )
    plan = make_plan(
        config, selection, fingerprint, cache_branch=cache_branch, cache_export=cache_export
    )
    files: dict[str, ContextFile] = {
        "deps.Dockerfile": ContextFile(data=deps_df.encode(), executable=False),
        "runtime.Dockerfile": ContextFile(data=runtime_df.encode(), executable=False),
        ".dockerignore": ContextFile(data=b"docker-bake.hcl\n*.json\n", executable=False),
        **{f"wrappers/{k}": v for k, v in wrappers.items()},
        **{f"tools/{k}": v for k, v in tools.items()},
        # The app layer laid out as it sits in the image: copied to / (see runtime.Dockerfile).
        **{f"app/openhands/{app_dir}/{k}": v for k, v in app.items()},
        **{f"lock/{k}": v for k, v in lock.items()},
    }
    bake = render_bake(
        version=__version__,
        build_dir=build_dir,
        args=plan.args,
        deps=plan.deps,
        runtime=plan.runtime,
        default_targets=[d.name for d in plan.deps[:1]] + (["runtime"] if plan.runtime else []),
    )
    files["docker-bake.hcl"] = ContextFile(data=bake.encode(), executable=False)
    return Prepared(plan=plan, files=files)


def write_build_dir(out: Path, files: dict[str, ContextFile]) -> None:
    """Write into a sibling temporary directory, then swap it in: never half-written."""
    out = out.absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output directory: {exc}") from None
    try:
        for rel, f in sorted(files.items()):
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(f.data)
            os.chmod(p, 0o755 if f.executable else 0o644)
            mtime = content_mtime(f.data)
            os.utime(p, (mtime, mtime))
        # Directories too get one fixed mtime and mode (COPY keeps theirs as well, and the
        # app layer's openhands/ entry stands over the bundle's: never the user's umask).
        for d in sorted({p for p in tmp.rglob("*") if p.is_dir()} | {tmp}, reverse=True):
            os.chmod(d, 0o755)
            os.utime(d, (_EPOCH, _EPOCH))
        if out.exists() and not out.is_dir():
            raise OutputError(f"{out}: exists and is not a directory; remove it or pick --output")
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.rename(out, old / "d")
        os.rename(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{out}: cannot write the build directory: {exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
