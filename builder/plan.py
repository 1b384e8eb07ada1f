"""Pure planning: config + selection + fingerprint -> a typed build plan.

No I/O here; :mod:`builder.prepare` gathers the inputs and :mod:`builder.bakefile`
turns the plan into a bake file.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from builder.errors import ConfigError
from builder.model import DEFAULT_PLATFORMS, Base, Config, normalize_platforms
from builder.tags import ref_tag_safe, runtime_tag
from builder.version import __version__

FALLBACK_BRANCH = "main"


@dataclass(frozen=True, kw_only=True)
class Selection:
    """What to build: base globs (image or name), platforms, one shard of the bases."""

    bases: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None  # (index from 1, count)


@dataclass(frozen=True, kw_only=True)
class Fingerprint:
    deps_hash: str
    source_hash: str
    runtime_hash: str


@dataclass(frozen=True, kw_only=True)
class CacheSpec:
    cache_from: tuple[str, ...]
    cache_to: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DepsTarget:
    name: str
    platforms: tuple[str, ...]
    ref: str
    cache: CacheSpec
    labels: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class RuntimeTarget:
    name: str  # bake target name: runtime-<key>
    key: str  # the base's name
    base: str  # image reference as written in the config
    pinned: str  # what is built on: ``base@digest`` from the lock
    platforms: tuple[str, ...]
    ref: str
    deps_target: str
    cache: CacheSpec
    labels: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Plan:
    deps_base: str
    fingerprint: Fingerprint
    args: dict[str, str]
    deps: tuple[DepsTarget, ...]
    runtime: tuple[RuntimeTarget, ...]
    cache_branch: str = FALLBACK_BRANCH
    cache_flavor: str = ""  # "" (a BuildKit daemon) or "dockerd" (the docker driver)

    @property
    def deps_ref(self) -> str:
        return self.deps[0].ref


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` with 1 <= I <= N."""
    try:
        i_s, n_s = text.split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected I/N, e.g. 1/4") from None
    if not (n >= 1 and 1 <= i <= n):
        raise ConfigError(f"--shard {text!r}: need 1 <= I <= N")
    return i, n


def select_bases(config: Config, selection: Selection) -> tuple[Base, ...]:
    bases = config.bases
    if selection.bases:
        bases = tuple(
            b
            for b in bases
            if any(
                fnmatch.fnmatchcase(b.image, g) or fnmatch.fnmatchcase(b.name, g)
                for g in selection.bases
            )
        )
        if not bases:
            raise ConfigError(
                f"{config.path}: no base matches --base {' '.join(selection.bases)}; "
                "globs match [[bases]] image or name ('oh-builder tags' lists them)"
            )
    if selection.shard:
        i, n = selection.shard
        # Round-robin over config order: balanced, and the same on every machine.
        bases = bases[i - 1 :: n]
    return bases


def _narrow(platforms: tuple[str, ...], wanted: tuple[str, ...]) -> tuple[str, ...]:
    platforms = normalize_platforms(platforms)
    return tuple(p for p in platforms if p in wanted) if wanted else platforms


def platform_suffix(platforms: tuple[str, ...]) -> str:
    """Short tag suffix for a platform subset: ``amd64``, ``amd64.arm64``."""
    return ".".join(p.split("/", 1)[1].replace("/", "") for p in platforms)


def _cache_refs(cache_repo: str, key: str, branch: str, flavor: str = "") -> list[str]:
    tail = f"--{flavor}" if flavor else ""
    refs = [f"{cache_repo}:{ref_tag_safe(f'{key}--{branch}{tail}')}"]
    if branch != FALLBACK_BRANCH:
        refs.append(f"{cache_repo}:{ref_tag_safe(f'{key}--{FALLBACK_BRANCH}{tail}')}")
    return refs


def _cache(
    cache_repo: str,
    key: str,
    branch: str,
    *,
    mode_max: bool,
    also: tuple[str, ...] = (),
    export: bool = True,
    flavor: str = "",
) -> CacheSpec:
    """Import the branch's cache, then main's (and ``also``); export to the branch's.
    ``flavor``: the builder kind's own cache tags (see Plan.cache_flavor)."""
    keys = (key, *also)
    cache_from = tuple(
        f"type=registry,ref={ref}"
        for k in keys
        for ref in _cache_refs(cache_repo, k, branch, flavor)
    )
    to = f"type=registry,ref={_cache_refs(cache_repo, key, branch, flavor)[0]},ignore-error=true"
    if mode_max:
        to += ",mode=max"
    return CacheSpec(cache_from=cache_from, cache_to=(to,) if export else ())


def _digest_label(pinned: str) -> dict[str, str]:
    _, _, digest = pinned.partition("@")
    return {"org.opencontainers.image.base.digest": digest} if digest else {}


def make_plan(
    config: Config,
    selection: Selection,
    fingerprint: Fingerprint,
    *,
    pins: dict[str, str] | None = None,
    cache_branch: str = FALLBACK_BRANCH,
    cache_export: bool = True,
    cache_flavor: str = "",
) -> Plan:
    """The deps target(s) and one runtime target per selected base.

    buildx 0.13 requires targets linked by ``target:`` to share a platform set, so a
    base whose platforms differ from the main deps target gets a deps target of its
    own (``deps-<platforms>``), importing the main deps cache.

    pins: image -> ``image@digest`` (from the lock); an image without a pin is built
    as written (its tag then covers the reference only).
    """
    pins = pins or {}
    reg = config.registry
    bases = select_bases(config, selection)
    all_platforms = normalize_platforms(config.build.platforms)
    main_platforms = _narrow(all_platforms, selection.platforms)
    common_labels = {
        "org.opencontainers.image.vendor": "oh-builder",
        "dev.oh-builder.version": __version__,
        "dev.oh-builder.deps-hash": fingerprint.deps_hash,
    }

    def deps_target(platforms: tuple[str, ...]) -> DepsTarget:
        # Tags name their platform set unless it is the standard one (amd64 + arm64),
        # whatever the config's build.platforms: two configs with the same inputs and
        # different platform sets never push to one tag.
        full = platforms == DEFAULT_PLATFORMS
        suffix = "" if full else platform_suffix(platforms)
        name = (
            "deps"
            if platforms == main_platforms
            else f"deps-{platform_suffix(platforms).replace('.', '-')}"
        )
        tag = fingerprint.deps_hash + (f"-{suffix}" if suffix else "")
        return DepsTarget(
            name=name,
            platforms=platforms,
            ref=f"{reg.deps}:{tag}",
            cache=_cache(
                reg.cache,
                "deps" if full else f"deps-{suffix}",
                cache_branch,
                mode_max=True,
                also=() if full else ("deps",),
                export=cache_export,
                flavor=cache_flavor,
            ),
            labels={
                **common_labels,
                "org.opencontainers.image.base.name": config.deps.base,
                **_digest_label(pins.get(config.deps.base, "")),
                **config.labels,
            },
        )

    deps: dict[tuple[str, ...], DepsTarget] = {}
    if main_platforms:
        deps[main_platforms] = deps_target(main_platforms)
    runtime: list[RuntimeTarget] = []
    for base in bases:
        platforms = _narrow(base.platforms, selection.platforms)
        if not platforms:
            continue
        if platforms not in deps:
            deps[platforms] = deps_target(platforms)
        pinned = pins.get(base.image, base.image)
        tag = runtime_tag(
            base.image,
            fingerprint.deps_hash,
            fingerprint.source_hash,
            fingerprint.runtime_hash,
            pinned=pinned,
        )
        cache_key = f"runtime-{base.name}"
        if platforms != DEFAULT_PLATFORMS:
            tag += f"-{platform_suffix(platforms)}"
            cache_key += f"-{platform_suffix(platforms)}"
        runtime.append(
            RuntimeTarget(
                name=f"runtime-{base.name}",
                key=base.name,
                base=base.image,
                pinned=pinned,
                platforms=platforms,
                ref=f"{reg.runtime}:{tag}",
                deps_target=deps[platforms].name,
                cache=_cache(
                    reg.cache,
                    cache_key,
                    cache_branch,
                    mode_max=False,
                    export=cache_export,
                    flavor=cache_flavor,
                ),
                labels={
                    **common_labels,
                    "dev.oh-builder.source-hash": fingerprint.source_hash,
                    "org.opencontainers.image.base.name": base.image,
                    **_digest_label(pinned),
                    **config.labels,
                },
            )
        )
    if not runtime and not deps:
        raise ConfigError(
            f"{config.path}: nothing to build for --platform {' '.join(selection.platforms)}; "
            f"build.platforms is {', '.join(config.build.platforms)}"
        )
    if selection.platforms and not runtime and bases:
        raise ConfigError(
            f"{config.path}: no selected base builds for --platform {' '.join(selection.platforms)}"
        )
    return Plan(
        deps_base=config.deps.base,
        fingerprint=fingerprint,
        args=dict(config.build.args),
        deps=tuple(deps.values()),
        runtime=tuple(runtime),
        cache_branch=cache_branch,
        cache_flavor=cache_flavor,
    )
