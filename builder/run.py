"""Execute a prepared plan: skip what exists, bake the rest, keep going past a failed
target, show progress, and report every target."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from builder import engine
from builder.errors import BuildError
from builder.prepare import Prepared, write_build_dir
from builder.progress import PlainParser, RawJsonParser, TargetResult, Tracker

__all__ = ["Interrupted", "TargetResult", "display_mode", "run_bake"]

Echo = Callable[[str], None]


def display_mode(progress: str, *, isatty: bool | None = None) -> str:
    """auto -> live (a terminal) or plain; plain and quiet stay as they are."""
    if progress != "auto":
        return progress
    if isatty is None:
        isatty = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    return "live" if isatty else "plain"


def on_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


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
    echo: Echo | None = None,
) -> list[TargetResult]:
    """Bake ``targets``; raise BuildError (after reporting) when any failed.

    progress: auto, live (a Rich table from buildx's rawjson stream), plain (buildx's
    plain log, grouped on GitHub Actions) or quiet.
    """
    engine.check_engine()
    write_build_dir(output, prepared.files)
    plan = prepared.plan
    every = {d.name: (d.ref, d.platforms) for d in plan.deps}
    every.update({r.name: (r.ref, r.platforms) for r in plan.runtime})
    names = list(targets) or [plan.deps[0].name, *(r.name for r in plan.runtime)]
    results = {n: TargetResult(name=n, ref=every[n][0], platforms=every[n][1]) for n in names}
    if push and not force:
        with ThreadPoolExecutor(max_workers=16) as pool:
            found = pool.map(
                engine.image_exists,
                [r.ref for r in results.values()],
                [r.platforms for r in results.values()],
            )
            for r, exists in zip(results.values(), found, strict=True):
                if exists:
                    r.status, r.state = "exists", "done"
    todo = [n for n in names if results[n].status == "pending"]
    mode = display_mode(progress)

    def show(line: str) -> None:
        if echo is not None:
            echo(line)
        elif mode != "quiet":
            sys.stderr.write(line + "\n")

    bake_file = output / "docker-bake.hcl"
    options = {"push": push, "load": load, "no_cache": no_cache}
    out = list(results.values())
    try:
        if todo:
            ok = _bake(bake_file, todo, results, mode=mode, echo=show, **options)
            if not ok:
                # Keep going: bake what is left one target at a time, so one bad base
                # cannot stop the others, and each failure has its own log.
                for n in [n for n in todo if results[n].status != "built"]:
                    results[n].reset()
                    _bake(bake_file, [n], results, mode=mode, echo=show, **options)
    except KeyboardInterrupt:
        for r in out:
            if r.status == "pending":
                r.status, r.state = "interrupted", "failed"
        raise Interrupted(out) from None
    finally:
        if metadata_file is not None:
            metadata_file.write_text(json.dumps([r.as_json() for r in out], indent=2) + "\n")
    failed = [r for r in out if r.status == "failed"]
    if failed and mode == "plain" and on_github_actions():
        for r in failed:
            last = r.log[-1] if r.log else "see the log above"
            show(f"::error title=oh-builder: {r.name} failed::{_annotation(last)}")
    if failed:
        raise BuildError(
            f"{len(failed)} target(s) failed: {', '.join(r.name for r in failed)}", results=out
        )
    return out


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a bake, carrying what each target had reached."""

    def __init__(self, results: list[TargetResult]) -> None:
        super().__init__()
        self.results = results


def _annotation(text: str) -> str:
    """GitHub workflow-command escaping for a message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@contextlib.contextmanager
def _display(
    mode: str, names: Sequence[str], results: dict[str, TargetResult], echo: Echo
) -> Iterator[Echo]:
    """Yields where buildx's human-readable lines go while the bake runs."""
    if mode == "live":
        from builder.console import live_view

        with live_view([results[n] for n in names]) as note:
            yield note
    elif mode == "plain" and on_github_actions():
        echo(f"::group::docker buildx bake {' '.join(names)}")
        try:
            yield echo
        finally:
            echo("::endgroup::")
    else:
        yield echo


def _bake(
    bake_file: Path,
    names: list[str],
    results: dict[str, TargetResult],
    *,
    mode: str,
    echo: Echo,
    push: bool,
    load: bool,
    no_cache: bool,
) -> bool:
    tracker = Tracker(results, names)
    live = mode == "live"
    start = time.monotonic()
    ok = True
    with (
        _display(mode, names, results, echo) as show,
        tempfile.NamedTemporaryFile(suffix=".json") as meta,
    ):
        parser = RawJsonParser(tracker) if live else PlainParser(tracker)
        try:
            for line in engine.bake_stream(
                bake_file,
                names,
                push=push,
                load=load,
                no_cache=no_cache,
                metadata_file=Path(meta.name),
                progress="rawjson" if live else "plain",
            ):
                text = parser.feed(line)  # rawjson: only buildx's own error report
                if text is not None:
                    show(text)
        except BuildError:
            ok = False
        try:
            metadata = json.loads(Path(meta.name).read_text() or "{}")
        except (OSError, ValueError):
            metadata = {}
    elapsed = time.monotonic() - start
    for n in names:
        r = results[n]
        r.seconds += (r.ended - r.started) if r.started is not None and r.ended else elapsed
        digest = metadata.get(n, {}).get("containerimage.digest", "")
        if digest:
            r.digest, r.status = digest, "built"
        elif ok:
            r.status = "built"
        elif len(names) == 1:
            r.status = "failed"
        if r.status == "built":
            r.state = "done"
        elif r.status == "failed":
            r.state = "failed"
    return ok
