"""Execute a prepared plan: skip what exists, bake the rest, keep going past a failed
target, and report every target."""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from builder import engine
from builder.errors import BuildError
from builder.prepare import Prepared, write_build_dir

_STEP = re.compile(r"^#(\d+) \[([A-Za-z0-9_-]+)[ \]]")
_CACHED = re.compile(r"^#(\d+) CACHED$")


@dataclass(kw_only=True)
class TargetResult:
    name: str
    ref: str
    platforms: tuple[str, ...]
    status: str = "pending"  # built, exists, failed, pending
    digest: str = ""
    seconds: float = 0.0
    steps: set[str] = field(default_factory=set)
    cached: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "target": self.name,
            "ref": self.ref,
            "platforms": list(self.platforms),
            "status": self.status,
            "digest": self.digest,
            "seconds": round(self.seconds, 1),
            "cached_steps": len(self.cached),
            "total_steps": len(self.steps),
            "log_tail": self.log[-15:] if self.status == "failed" else [],
        }


class _LogParser:
    """Attributes buildx's plain log lines to targets (`#N [target stage …]`)."""

    def __init__(self, results: dict[str, TargetResult]) -> None:
        self.results = results
        self.owner: dict[str, str] = {}

    def feed(self, line: str) -> None:
        m = _STEP.match(line)
        if m and m.group(2) in self.results:
            self.owner[m.group(1)] = m.group(2)
            self.results[m.group(2)].steps.add(m.group(1))
        vertex = line.split(" ", 1)[0].lstrip("#")
        target = self.owner.get(vertex)
        if target:
            self.results[target].log.append(line)
            if _CACHED.match(line):
                self.results[target].cached.add(vertex)


def run_bake(
    prepared: Prepared,
    *,
    output: Path,
    targets: Sequence[str] = (),
    push: bool = False,
    load: bool = False,
    no_cache: bool = False,
    force: bool = False,
    metadata_file: Path | None = None,
    progress: str = "auto",
    echo: Callable[[str], None] | None = None,
) -> list[TargetResult]:
    """Bake ``targets``; raise BuildError (after reporting) when any failed."""
    engine.check_engine()
    write_build_dir(output, prepared.files)
    plan = prepared.plan
    every = {d.name: (d.ref, d.platforms) for d in plan.deps}
    every.update({r.name: (r.ref, r.platforms) for r in plan.runtime})
    names = list(targets) or [plan.deps[0].name, *(r.name for r in plan.runtime)]
    results = {n: TargetResult(name=n, ref=every[n][0], platforms=every[n][1]) for n in names}
    if push and not force:
        with ThreadPoolExecutor(max_workers=16) as pool:
            found = pool.map(engine.image_exists, [r.ref for r in results.values()])
            for r, exists in zip(results.values(), found, strict=True):
                if exists:
                    r.status = "exists"
    todo = [n for n in names if results[n].status == "pending"]

    def show(line: str) -> None:
        if echo is not None:
            echo(line)
        elif progress != "quiet":
            sys.stderr.write(line + "\n")

    bake_file = output / "docker-bake.hcl"
    if todo:
        ok = _bake(bake_file, todo, results, push=push, load=load, no_cache=no_cache, echo=show)
        if not ok:
            # Keep going: bake what is left one target at a time, so one bad base
            # cannot stop the others, and each failure has its own log.
            for n in [n for n in todo if results[n].status != "built"]:
                results[n].steps.clear()
                results[n].cached.clear()
                results[n].log.clear()
                _bake(bake_file, [n], results, push=push, load=load, no_cache=no_cache, echo=show)
    out = list(results.values())
    if metadata_file is not None:
        metadata_file.write_text(json.dumps([r.as_json() for r in out], indent=2) + "\n")
    failed = [r.name for r in out if r.status == "failed"]
    if failed:
        raise BuildError(f"{len(failed)} target(s) failed: {', '.join(failed)}", results=out)
    return out


def _bake(
    bake_file: Path,
    names: list[str],
    results: dict[str, TargetResult],
    *,
    push: bool,
    load: bool,
    no_cache: bool,
    echo: Callable[[str], None],
) -> bool:
    parser = _LogParser(results)
    start = time.monotonic()
    with tempfile.NamedTemporaryFile(suffix=".json") as meta:
        ok = True
        try:
            for line in engine.bake_stream(
                bake_file,
                names,
                push=push,
                load=load,
                no_cache=no_cache,
                metadata_file=Path(meta.name),
            ):
                parser.feed(line)
                echo(line)
        except BuildError:
            ok = False
        try:
            metadata = json.loads(Path(meta.name).read_text() or "{}")
        except (OSError, ValueError):
            metadata = {}
    elapsed = time.monotonic() - start
    for n in names:
        r = results[n]
        r.seconds += elapsed
        digest = metadata.get(n, {}).get("containerimage.digest", "")
        if digest:
            r.digest, r.status = digest, "built"
        elif ok:
            r.status = "built"
        elif len(names) == 1:
            r.status = "failed"
    return ok
