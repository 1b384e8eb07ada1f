"""The typed configuration model. Parsed once by :mod:`builder.config`, then read-only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
KNOWN_PLATFORMS = (
    "linux/amd64",
    "linux/arm64",
    "linux/arm/v7",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
)


def normalize_platforms(platforms: Iterable[str]) -> tuple[str, ...]:
    """Sorted and without repeats: the order platforms are written in never changes a
    target, a tag or a cache key."""
    return tuple(sorted(set(platforms)))


DEFAULT_TOOLS = ("tmux", "bash", "git", "ripgrep", "jq", "nodejs")
# deps.tools entry -> the distribution packages it needs in the deps build.
TOOL_PACKAGES: dict[str, tuple[str, ...]] = {
    "tmux": ("tmux",),
    "bash": ("bash",),
    "git": ("git",),
    "ripgrep": ("ripgrep",),
    "jq": ("jq",),
    "nodejs": ("nodejs",),
}
# Target-architecture packages every bundle unpacks: CPython and the C++ runtime (the
# venv layer relies on them), and the system layer's fixed parts (locale, terminfo,
# busybox fallbacks, tini as init, time-zone data for Python's zoneinfo).
PYTHON_PACKAGES = ("python3", "libc6", "libstdc++6", "libgcc-s1", "libatomic1")
SYSTEM_PACKAGES = (
    *PYTHON_PACKAGES,
    "libc-bin",
    "ncurses-base",
    "busybox-static",
    "bash",
    "tini",
    "tzdata",
)

# Server kinds (deps.server) are described in builder.servers, capabilities
# (deps.capabilities) in builder.capabilities.


# The defaults of optional config keys: here and nowhere else (builder.config reads them;
# the dataclasses below have none, so every value comes from the config parser).
DEFAULT_DEPS_BASE = "debian:trixie"
DEFAULT_APP = "app"
DEFAULT_POETRY_GROUPS = ("main",)
# Off: the bundle's layers get fixed mtimes when they are built, and the exporter's
# rewrite re-reads every layer of every image on each push (~65 s per image measured
# with the sample profile, docs/engine.md).
DEFAULT_REWRITE_TIMESTAMP = False


@dataclass(frozen=True, kw_only=True)
class BuildSettings:
    platforms: tuple[str, ...]
    args: dict[str, str]
    builder: str | None  # a buildx builder name; None: buildx's current builder
    rewrite_timestamp: bool  # push with rewrite-timestamp=true (BuildKit daemons only)


@dataclass(frozen=True, kw_only=True)
class RegistrySettings:
    runtime: str
    deps: str
    cache: str


@dataclass(frozen=True, kw_only=True)
class DepsSettings:
    base: str
    app: Path
    capabilities: tuple[str, ...]  # sorted names from builder.capabilities
    tools: tuple[str, ...]
    server: str  # a builder.servers kind
    entrypoint: str  # default: the kind's entrypoint module
    poetry_groups: tuple[str, ...]

    @property
    def browser(self) -> bool:
        return "browser" in self.capabilities


@dataclass(frozen=True, kw_only=True)
class ImageDigests:
    """What an image reference points at in its registry: the digest (an index or a
    single manifest) and each platform's manifest digest."""

    digest: str
    platforms: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Base:
    image: str
    name: str
    platforms: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Config:
    path: Path
    build: BuildSettings
    registry: RegistrySettings
    deps: DepsSettings
    labels: dict[str, str]
    bases: tuple[Base, ...]
