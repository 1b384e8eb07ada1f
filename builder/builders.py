"""The buildx builder a bake runs on: what it is, what follows from it, and whether it
can build a plan. Pure: :mod:`builder.engine` fills a :class:`BuilderInfo` in.

The differences that matter here are the driver's. The ``docker`` driver builds inside
dockerd: it needs the containerd image store for multi-platform builds and registry
cache export, stores (and unpacks) every image it pushes in the local image store, and
refuses ``rewrite-timestamp``. Every other driver (``docker-container``, ``remote``,
``kubernetes``, cloud builders) is a BuildKit daemon of its own with none of those limits
and no local image store.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.errors import EngineError

# buildx releases that ask for a filesystem entitlement (`--allow=fs.read=PATH`) for
# every local path a bake reads outside its working directory.
FS_ENTITLEMENTS_SINCE = (0, 19)


@dataclass(frozen=True, kw_only=True)
class BuilderInfo:
    name: str
    driver: str
    endpoint: str
    status: str
    buildkit: str  # BuildKit version of the (first) node, e.g. "v0.25.2"
    platforms: tuple[str, ...]
    containerd_store: bool  # docker driver only: dockerd keeps images in containerd

    @property
    def daemon(self) -> bool:
        """A BuildKit daemon of its own (not the one inside dockerd)."""
        return self.driver != "docker"

    @property
    def multi_platform(self) -> bool:
        return self.daemon or self.containerd_store

    @property
    def cache_export(self) -> bool:
        return self.daemon or self.containerd_store

    @property
    def local_store(self) -> bool:
        """Pushed images also land, unpacked, in dockerd's local image store."""
        return not self.daemon

    @property
    def rewrite_timestamp(self) -> bool:
        """The image exporter accepts ``rewrite-timestamp=true`` (same blob on a re-run)."""
        return self.daemon

    @property
    def cache_flavor(self) -> str:
        """Registry cache tags of their own for the docker driver: dockerd's BuildKit
        computes other cache keys than a BuildKit daemon (measured: 0 of 10 deps steps
        hit from a daemon's cache), and two kinds exporting to one tag replace each
        other's cache."""
        return "" if self.daemon else "dockerd"

    def builds(self, platform: str) -> bool:
        """Whether a node lists ``platform`` (linux/arm64 also as linux/arm64/v8)."""
        return any(p == platform or p.startswith(platform + "/") for p in self.platforms)

    def facts(self) -> list[tuple[str, bool, str]]:
        """(what, ok, detail) rows for ``doctor``."""
        name = f"builder {self.name}"
        rows = [
            (
                name,
                self.status == "running",
                f"driver {self.driver}, {self.endpoint}, BuildKit {self.buildkit or '?'}, "
                f"status {self.status}",
            ),
            (f"{name}: platforms", bool(self.platforms), ", ".join(self.platforms) or "none"),
            (
                f"{name}: multi-platform + registry cache export",
                self.multi_platform,
                "yes"
                if self.multi_platform
                else 'no: enable the containerd image store ({"features":'
                '{"containerd-snapshotter":true}} in daemon.json) or use a BuildKit daemon',
            ),
            (
                f"{name}: local image store",
                True,
                "yes: pushed images are unpacked into dockerd's store too (slower, uses disk)"
                if self.local_store
                else "no: images go to the registry only; `verify` and `docker run` pull them",
            ),
            (
                f"{name}: reproducible timestamps",
                True,
                "available: build.rewrite_timestamp = true clamps layer file times to "
                "SOURCE_DATE_EPOCH on push"
                if self.rewrite_timestamp
                else "no rewrite-timestamp on the docker driver (image timestamps still "
                "follow SOURCE_DATE_EPOCH)",
            ),
        ]
        return rows


def check_can_build(
    info: BuilderInfo, platforms: Iterable[str], *, cache_export: bool, rewrite: bool = False
) -> None:
    """Refuse, before any build, a plan the builder cannot carry out (one line naming the
    builder and what it lacks)."""
    wanted = sorted(set(platforms))
    missing = [p for p in wanted if not info.builds(p)]
    if missing:
        hint = (
            " (install qemu-user-static and binfmt-support: make engine)"
            if any("arm" in p for p in missing)
            else ""
        )
        raise EngineError(
            f"builder {info.name} ({info.driver}) cannot build {', '.join(missing)}: its "
            f"platforms are {', '.join(info.platforms) or 'none'}{hint}; pick another "
            "builder (--builder, `docker buildx ls`) or drop the platform"
        )
    if len(wanted) > 1 and not info.multi_platform:
        raise EngineError(
            f"builder {info.name} (driver docker) cannot build several platforms at once "
            "without dockerd's containerd image store; enable it or use a BuildKit daemon builder"
        )
    if cache_export and not info.cache_export:
        raise EngineError(
            f"builder {info.name} (driver docker) cannot export a registry cache without "
            "dockerd's containerd image store; enable it, use a BuildKit daemon builder, "
            "or pass --no-cache-export"
        )
    if rewrite and not info.rewrite_timestamp:
        raise EngineError(
            f"builder {info.name} (driver {info.driver}) cannot rewrite layer timestamps "
            "(build.rewrite_timestamp); use a BuildKit daemon builder or set it to false"
        )


def output_overrides(
    info: BuilderInfo, *, push: bool, cache_only: bool, rewrite: bool = False
) -> dict[str, str]:
    """``--set *.output=…`` for this builder: nothing exported (``warm``); or, pushing
    with ``rewrite`` on a builder that can, layer file times clamped to SOURCE_DATE_EPOCH
    (the bake file's ``_common`` args). Empty: the bake file's own outputs (``--push`` /
    ``--load``)."""
    if cache_only:
        return {"*.output": "type=cacheonly"}
    if push and rewrite and info.rewrite_timestamp:
        return {"*.output": "type=registry,rewrite-timestamp=true"}
    return {}


def fs_entitlements(paths: Sequence[Path], cwd: Path | None = None) -> list[str]:
    """The ``--allow=fs.read=PATH`` entries a current buildx needs for ``paths`` (files or
    directories a bake reads): those outside the working directory, each once."""
    here = (cwd or Path(os.getcwd())).resolve()
    out: list[str] = []
    for p in paths:
        full = p.resolve()
        if full == here or here in full.parents:
            continue
        entry = f"fs.read={full}"
        if entry not in out:
            out.append(entry)
    return out


def parse_version(text: str) -> tuple[int, int, int]:
    """``github.com/docker/buildx 0.29.1+ds1 …`` or ``v0.13.1`` -> (0, 29, 1)."""
    m = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return (0, 0, 0)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
