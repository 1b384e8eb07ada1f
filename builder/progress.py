"""Follow a running bake: buildx's plain log or its ``--progress=rawjson`` stream.

Pure (no Docker, no Rich): a parser turns the lines buildx writes into vertex events,
and a Tracker keeps each target's ``TargetResult`` up to date: its state (queued,
building, cached, exporting, pushing, done, failed), current step, cached/total
steps, elapsed time, log tail and any cache-export error.

Vertex names carry the target: bake prefixes them (``[deps system 3/5] RUN …``,
``[deps] exporting to image``) when it builds more than one target; with one target
nothing is prefixed and every vertex belongs to it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LOG_LINES = 400  # per target, for the summary's log tail

_STEP = re.compile(r"(?:^|\s)\d+/\d+$")
_PLAIN = re.compile(r"^#(\d+) (.*)$")
_PLAIN_LOG = re.compile(r"^\d+\.\d+ (.*)$")
_LAYER_PULL = re.compile(r"^(?:extracting )?sha256:[0-9a-f]{64}\b")


@dataclass(kw_only=True)
class TargetResult:
    """One bake target: live progress while it builds, then its outcome."""

    name: str
    ref: str
    platforms: tuple[str, ...]
    status: str = "pending"  # outcome: built, exists, failed, pending
    state: str = "queued"  # live: queued building cached exporting pushing done failed
    current: str = ""  # the step running (or last finished)
    digest: str = ""
    seconds: float = 0.0
    started: float | None = None
    ended: float | None = None
    steps: set[str] = field(default_factory=set)
    cached: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    cache_error: str = ""
    log: list[str] = field(default_factory=list)
    log_file: str = ""  # the target's full build log (OUTPUT/logs/TARGET.log)
    reason: str = ""  # why it failed without building, e.g. "blocked by deps"
    builder: str = ""  # the buildx builder it was baked on

    def reset(self) -> None:
        """Forget a try's progress before the target is baked again on its own."""
        self.state, self.current, self.started, self.ended = "queued", "", None, None
        self.steps, self.cached, self.running, self.log = set(), set(), set(), []
        self.cache_error = ""

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
            "cache_export_error": self.cache_error,
            "reason": self.reason,
            "builder": self.builder,
            "log": self.log_file,
            "log_tail": self.log[-15:] if self.status == "failed" else [],
        }


@dataclass(frozen=True)
class Vertex:
    """A vertex name split into its target and what kind of work it is."""

    target: str
    label: str  # the name without the target prefix
    kind: str  # step, from, internal, export, push, cache, cache-import, other


def classify(name: str, targets: Sequence[str]) -> Vertex | None:
    """Which target a vertex belongs to and what it does; None when it is nobody's."""
    m = re.match(r"^\[(\S+?)(?: ([^\]]*))?\] ?(.*)$", name)
    if m and m.group(1) in targets:
        target = m.group(1)
        label = f"[{m.group(2)}] {m.group(3)}" if m.group(2) else m.group(3)
    elif len(targets) == 1:  # unprefixed, or a target it depends on (deps)
        target, label = targets[0], name
    else:
        return None
    bracket = re.match(r"^\[([^\]]*)\] ?(.*)$", label)
    if bracket and bracket.group(1) == "internal":
        kind = "internal"
    elif bracket and _STEP.search(bracket.group(1)):
        kind = "from" if bracket.group(2).startswith("FROM ") else "step"
    else:
        # "[deps] importing cache manifest …": a target this one depends on, unprefixed
        # because it is the only target baked; the work is the same kind.
        what = bracket.group(2) if bracket else label
        if what.startswith("exporting cache"):
            kind = "cache"
        elif what.startswith("importing cache"):
            kind = "cache-import"
        elif what.startswith("exporting"):
            kind = "export"
        elif what.startswith("pushing"):
            kind = "push"
        else:
            kind = "other"
    return Vertex(target, label, kind)


class Tracker:
    """Applies vertex events to the targets' results."""

    def __init__(
        self,
        results: Mapping[str, TargetResult],
        targets: Sequence[str],
        clock: Callable[[], float] = time.monotonic,
        sink: Callable[[str, str], None] | None = None,
    ) -> None:
        self.results = results
        self.targets = list(targets)
        self.clock = clock
        self.sink = sink  # (target, line): every line of each target's full log
        self.vertices: dict[str, Vertex] = {}

    def _touch(self, r: TargetResult) -> None:
        now = self.clock()
        if r.started is None:
            r.started = now
        r.ended = now

    def vertex(
        self,
        key: str,
        name: str | None,
        *,
        started: bool = False,
        completed: bool = False,
        cached: bool = False,
        error: str = "",
    ) -> None:
        v = classify(name, self.targets) if name is not None else self.vertices.get(key)
        if v is None:
            return
        if self.sink is not None and key not in self.vertices:
            self.sink(v.target, v.label)
        elif self.sink is not None and completed and not error:
            self.sink(v.target, f"{v.label}: {'CACHED' if cached else 'DONE'}")
        self.vertices[key] = v
        r = self.results[v.target]
        self._touch(r)
        if v.kind in ("step", "from"):
            if v.kind == "step":
                r.steps.add(key)
                if cached:
                    r.cached.add(key)
            if started and not completed and not cached:
                r.running.add(key)
            else:
                r.running.discard(key)
            if r.state in ("queued", "building", "cached"):
                r.current = v.label
                r.state = _build_state(r)
        elif v.kind in ("export", "push", "cache") and started and r.state != "failed":
            r.state = "pushing" if v.kind == "push" else "exporting"
            r.current = v.label
        if error:
            self._error(r, v, error)

    def _error(self, r: TargetResult, v: Vertex, error: str) -> None:
        r.running.clear()
        if v.kind == "cache":
            r.cache_error = error
            self.append(r, f"{v.label}: ERROR (ignored): {error}")
        elif v.kind == "cache-import":  # a cache that does not exist (yet) is a miss
            self.append(r, f"{v.label}: cache miss ({error})")
        elif _canceled(error):
            self.append(r, f"{v.label}: canceled")
        else:
            r.state, r.current = "failed", v.label
            self.append(r, f"{v.label}: ERROR: {error}")

    def status(self, key: str, text: str) -> None:
        v = self.vertices.get(key)
        if v is None:
            return
        r = self.results[v.target]
        self._touch(r)
        if text.startswith("pushing") and r.state not in ("failed", "done"):
            r.state, r.current = "pushing", text
        elif v.kind == "step" and _LAYER_PULL.match(text):
            # A BuildKit daemon reports a step it takes from an imported registry cache
            # by pulling the step's layers under it (the docker driver says CACHED).
            r.cached.add(key)

    def log(self, key: str | None, text: str) -> None:
        v = self.vertices.get(key) if key is not None else None
        if v is None:
            if len(self.targets) != 1:
                return
            r, prefix = self.results[self.targets[0]], ""
        else:
            r, prefix = self.results[v.target], f"{v.label}: "
        self.append(r, prefix + text)

    def append(self, r: TargetResult, line: str) -> None:
        """Add to a target's log (the tail kept in memory: the last LOG_LINES)."""
        if self.sink is not None:
            self.sink(r.name, line)
        r.log.append(line)
        if len(r.log) > 2 * LOG_LINES:
            del r.log[:-LOG_LINES]


def _canceled(error: str) -> bool:
    """Stopped because another target failed: unfinished, not failed."""
    e = error.lower()
    return e.endswith(("context canceled", "canceled", "cancelled")) or "code = canceled" in e


def _build_state(r: TargetResult) -> str:
    if r.running or not r.steps:
        return "building"
    return "cached" if r.cached == r.steps else "building"


class PlainParser:
    """buildx's ``--progress=plain`` log: ``#N name``, ``#N CACHED``, ``#N 0.12 output``…"""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.names: dict[str, str] = {}

    def feed(self, line: str) -> str:
        """Consume a line; return it (every plain line is for humans)."""
        self._apply(line)
        return line

    def _apply(self, line: str) -> None:
        m = _PLAIN.match(line)
        if not m:
            if line.strip():
                self.tracker.log(None, line)
            return
        key, rest = "#" + m.group(1), m.group(2)
        t = self.tracker
        if key not in self.names:
            self.names[key] = rest
            t.vertex(key, rest, started=True)
        elif rest == self.names[key]:
            return
        elif rest == "CACHED":
            t.vertex(key, None, completed=True, cached=True)
        elif rest.startswith("DONE"):
            t.vertex(key, None, completed=True)
        elif rest == "CANCELED":
            t.vertex(key, None, completed=True, error="canceled")
        elif rest.startswith("ERROR: "):
            t.vertex(key, None, completed=True, error=rest.removeprefix("ERROR: "))
        elif lm := _PLAIN_LOG.match(rest):
            t.log(key, lm.group(1))
        else:
            t.status(key, rest)


class RawJsonParser:
    """buildx's ``--progress=rawjson``: SolveStatus objects, one after another (pretty-
    printed or one a line); anything between them (the final error report) is plain text."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.buffer: list[str] = []

    def feed(self, line: str) -> str | None:
        """Consume a line; return it when it is text for humans rather than JSON.

        buildx 0.13 pretty-prints each status over many lines; buildx 0.29 writes one
        object per line."""
        if not self.buffer and line.startswith("{") and line.endswith("}"):
            try:
                status = json.loads(line)
            except ValueError:
                status = None
            if isinstance(status, dict):
                self.apply(status)
                return None
        if not self.buffer and line != "{":
            if line.strip():
                self.tracker.log(None, line)
                return line
            return None
        self.buffer.append(line)
        if line != "}":
            return None
        text, self.buffer = "\n".join(self.buffer), []
        try:
            status = json.loads(text)
        except ValueError:
            return None
        if isinstance(status, dict):
            self.apply(status)
        return None

    def apply(self, status: Mapping[str, Any]) -> None:
        t = self.tracker
        for v in _items(status.get("vertexes")):
            t.vertex(
                str(v.get("digest", "")),
                str(v.get("name", "")),
                started=bool(v.get("started")),
                completed=bool(v.get("completed")),
                cached=bool(v.get("cached")),
                error=str(v.get("error") or ""),
            )
        for s in _items(status.get("statuses")):
            if not s.get("completed"):
                t.status(str(s.get("vertex", "")), str(s.get("id", "")))
        for entry in _items(status.get("logs")):
            try:
                data = base64.b64decode(str(entry.get("data", "")))
            except (binascii.Error, ValueError):
                continue
            for text in data.decode("utf-8", "replace").splitlines():
                t.log(str(entry.get("vertex", "")), text)


def _items(value: object) -> Iterable[Mapping[str, Any]]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []
