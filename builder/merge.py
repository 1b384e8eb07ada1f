"""Per-platform runs merged into the multi-platform tags: which images go under which tag.

CI that builds each platform on its own runner (``bake --push --platform P
--metadata-file P.json``, on any number of shards) ends with one ``oh-builder merge
P.json…``: each target's per-platform images, by digest, become the index under the
tag a multi-platform bake of the same config pushes (docs/ci.md). Reading and checking
the metadata is pure; ``engine.create_index`` does the pushing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.errors import ConfigError
from builder.plan import Plan
from builder.refs import parse_image_ref

MERGEABLE = ("built", "exists")


@dataclass(frozen=True, kw_only=True)
class Part:
    """One target's image for one platform, as a per-platform run reported it."""

    target: str
    platform: str
    ref: str
    digest: str  # "" when the run found the tag already pushed (status exists)
    source: Path  # the metadata file that named it

    def by_digest(self, digest: str = "") -> str:
        """``repository@digest``: what the merged index points at, whatever the tag
        points at later (``digest`` for a part the run found pushed); else the tag."""
        digest = self.digest or digest
        return f"{parse_image_ref(self.ref).repository}@{digest}" if digest else self.ref


@dataclass(frozen=True, kw_only=True)
class Merge:
    """A multi-platform tag and the per-platform images it is made of."""

    target: str
    ref: str
    platforms: tuple[str, ...]
    parts: tuple[Part, ...]  # in the order of ``platforms``

    @property
    def needed(self) -> bool:
        """False for a target of one platform: its per-platform tag is its tag."""
        return len(self.parts) > 1 or self.parts[0].ref != self.ref


def read_metadata(path: Path) -> list[Mapping[str, Any]]:
    """The target entries of an ``oh-builder … --metadata-file`` file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the metadata file: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not a metadata file of oh-builder (JSON: {exc})") from None
    if not isinstance(data, list) or not all(
        isinstance(e, dict) and isinstance(e.get("target"), str) for e in data
    ):
        raise ConfigError(
            f"{path}: not a metadata file of oh-builder (want the list that "
            "`oh-builder bake --metadata-file` writes)"
        )
    return data


def _targets(plan: Plan) -> dict[str, tuple[str, tuple[str, ...]]]:
    out = {d.name: (d.ref, d.platforms) for d in plan.deps}
    out.update({r.name: (r.ref, r.platforms) for r in plan.runtime})
    return out


def plan_merge(
    plan_for: Callable[[tuple[str, ...]], Plan],
    metadata: Sequence[tuple[Path, Sequence[Mapping[str, Any]]]],
    config: Path,
) -> list[Merge]:
    """The merges that the per-platform runs in ``metadata`` make up. ``plan_for(())`` is
    the config's multi-platform plan, ``plan_for((P,))`` its plan for platform P alone:
    each run must have pushed that plan's tag (the same commit and config), every target
    named must be there for each of its platforms, and a target's platform only once."""
    full = _targets(plan_for(()))
    per: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
    parts: dict[str, dict[str, Part]] = {}
    for path, entries in metadata:
        for e in entries:
            part = _part(path, e, full, config)
            if part.platform not in per:
                per[part.platform] = _targets(plan_for((part.platform,)))
            want = per[part.platform].get(part.target, ("", ()))[0]
            if part.ref != want:
                what = "deps image" if part.target.startswith("deps") else "image"
                raise ConfigError(
                    f"{path}: {part.target} ({part.platform}) is {part.ref}, but {config} "
                    f"gives {want or 'no such target'} for {part.platform}: the runs baked "
                    f"another {what} (another commit or config); merge the metadata of "
                    "one commit's runs, from that checkout"
                )
            seen = parts.setdefault(part.target, {}).get(part.platform)
            if seen is not None and seen.digest and part.digest and seen.digest != part.digest:
                raise ConfigError(
                    f"{path}: {part.target} ({part.platform}) is {part.digest}, but "
                    f"{seen.source} says {seen.digest}: one platform of a target twice, "
                    "built twice; merge the metadata of the run that pushed it last"
                )
            if seen is None or (part.digest and not seen.digest):
                parts[part.target][part.platform] = part
    if not parts:
        names = ", ".join(str(p) for p, _ in metadata)
        raise ConfigError(f"{names}: no targets to merge (empty metadata)")
    merges = []
    for name, (ref, platforms) in full.items():  # deps first, then runtime, plan order
        have = parts.get(name)
        if have is None:
            continue
        missing = [p for p in platforms if p not in have]
        if missing:
            given = ", ".join(sorted({str(p.source) for p in have.values()}))
            raise ConfigError(
                f"{name}: no metadata for {', '.join(missing)} (given: {given}); bake it "
                f"with --platform {missing[0]} --metadata-file FILE and merge that file too"
            )
        merges.append(
            Merge(
                target=name,
                ref=ref,
                platforms=platforms,
                parts=tuple(have[p] for p in platforms),
            )
        )
    return merges


def _part(
    path: Path,
    e: Mapping[str, Any],
    full: Mapping[str, tuple[str, tuple[str, ...]]],
    config: Path,
) -> Part:
    target = str(e["target"])
    platforms = e.get("platforms")
    if target not in full:
        raise ConfigError(
            f"{path}: {target} is not a target of {config}; merge with the config the "
            "runs baked (-c)"
        )
    if not isinstance(platforms, list) or len(platforms) != 1:
        raise ConfigError(
            f"{path}: {target} was baked for {', '.join(map(str, platforms or [])) or 'no'} "
            "platforms at once; merge takes per-platform runs (bake --platform P)"
        )
    status = e.get("status")
    if status not in MERGEABLE:
        raise ConfigError(
            f"{path}: {target} ({platforms[0]}) is {status}, not pushed; bake it again "
            "before merging"
        )
    ref, digest = e.get("ref"), e.get("digest") or ""
    if not isinstance(ref, str) or not isinstance(digest, str):
        raise ConfigError(f"{path}: {target}: ref and digest must be strings")
    return Part(target=target, platform=str(platforms[0]), ref=ref, digest=digest, source=path)
