"""``builder.lock``: the digest of every base image a config builds on.

The lock sits next to its config (``builder.toml`` -> ``builder.lock``) and is committed.
Plans build ``image@digest`` from it, and the digest is part of every tag: a base that
moves in its registry is a new tag (after ``oh-builder lock --update``, a change that can
be reviewed), and an unchanged base is the same tag, skipped when it exists.

Format (TOML, one table per image reference, sorted; stable and diff-friendly)::

    version = 1

    ["debian:bookworm"]
    digest = "sha256:…"          # what the reference pointed at (an index or a manifest)
    "linux/amd64" = "sha256:…"   # each platform's manifest
    "linux/arm64" = "sha256:…"
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from builder.errors import ConfigError, OutputError
from builder.model import Base, Config, ImageDigests
from builder.refs import parse_image_ref

VERSION = 1
HEADER = (
    "# Base image digests for {config}, written by `oh-builder lock`. Commit this file.\n"
    "# `oh-builder lock --check` lists bases whose registry digest moved; "
    "`oh-builder lock --update` takes them.\n"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


LockEntry = ImageDigests  # one base's entry in the lock


@dataclass(frozen=True, kw_only=True)
class Lock:
    path: Path
    entries: dict[str, LockEntry]
    exists: bool = True


def lock_path(config_path: Path) -> Path:
    return config_path.with_suffix(".lock")


def locked_images(config: Config) -> list[str]:
    """What the lock holds for a config: deps.base and every base, without repeats, and
    without references that already carry a digest."""
    images = [config.deps.base, *(b.image for b in config.bases)]
    return [i for i in dict.fromkeys(images) if parse_image_ref(i).digest is None]


def read_lock(path: Path) -> Lock:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock(path=path, entries={}, exists=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the lock file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid TOML ({exc}); regenerate it with `oh-builder lock --update`"
        ) from None
    if data.get("version") != VERSION:
        raise ConfigError(
            f"{path}: version {data.get('version')!r} is not {VERSION}; "
            "regenerate it with `oh-builder lock --update`"
        )
    entries: dict[str, LockEntry] = {}
    for image, table in data.items():
        if image == "version":
            continue
        digests = table if isinstance(table, dict) else {}
        values = [v for v in digests.values() if isinstance(v, str) and _DIGEST.match(v)]
        if not isinstance(table, dict) or "digest" not in digests or len(values) != len(digests):
            raise ConfigError(
                f'{path}: [{json.dumps(image)}] must hold digest = "sha256:…" and one '
                "sha256 per platform; regenerate it with `oh-builder lock --update`"
            )
        platforms = {k: v for k, v in digests.items() if k != "digest"}
        entries[image] = LockEntry(digest=digests["digest"], platforms=platforms)
    return Lock(path=path, entries=entries)


def render_lock(config_name: str, entries: Mapping[str, LockEntry]) -> str:
    """The lock file's text: the same entries always give the same bytes."""
    parts = [HEADER.format(config=config_name), f"version = {VERSION}\n"]
    for image in sorted(entries):
        e = entries[image]
        parts.append(f"\n[{json.dumps(image)}]\ndigest = {json.dumps(e.digest)}\n")
        for platform in sorted(e.platforms):
            parts.append(f"{json.dumps(platform)} = {json.dumps(e.platforms[platform])}\n")
    return "".join(parts)


def write_lock(path: Path, text: str) -> None:
    """Write the lock whole (a temporary file renamed into place) or not at all."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the lock file: {exc}") from None


def select(images: Iterable[str], globs: Iterable[str]) -> list[str]:
    globs = list(globs)
    return [i for i in images if not globs or any(fnmatch.fnmatchcase(i, g) for g in globs)]


def resolve_all(
    images: Iterable[str], resolve: Callable[[str], LockEntry], workers: int = 32
) -> dict[str, LockEntry]:
    """Resolve in parallel; the first failure (a one-line BuilderError) is raised."""
    images = list(images)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(images)))) as pool:
        return dict(zip(images, pool.map(resolve, images), strict=True))


def pinned_refs(config: Config, lock: Lock, bases: Iterable[Base]) -> dict[str, str]:
    """image -> ``image@digest`` for deps.base and ``bases``; a missing entry is a
    ConfigError that names the image and the command that fixes it."""
    bases = list(bases)
    out: dict[str, str] = {}
    cmd = f"oh-builder lock -c {config.path}"
    for image in dict.fromkeys([config.deps.base, *(b.image for b in bases)]):
        if parse_image_ref(image).digest is not None:
            out[image] = image
            continue
        entry = lock.entries.get(image)
        if entry is None:
            why = "does not exist" if not lock.exists else f"has no entry for {image!r}"
            raise ConfigError(f"{lock.path}: {why}; run `{cmd}` to record the base digests")
        out[image] = f"{image}@{entry.digest}"
    for base in bases:
        entry = lock.entries.get(base.image)
        if entry is None or not entry.platforms:
            continue
        missing = [p for p in base.platforms if p not in entry.platforms]
        if missing:
            raise ConfigError(
                f"{lock.path}: {base.image!r} has no {', '.join(missing)} image (the registry "
                f"lists {', '.join(entry.platforms)}); set platforms on its [[bases]] entry "
                f"in {config.path}, or `oh-builder lock --update` if it has one now"
            )
    return out
