"""Execute a prepared plan: skip what exists, bake the rest, keep going past a failed
target, show progress, and report every target."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from builder import engine
from builder.builders import BuilderInfo, check_can_build, output_overrides
from builder.errors import BuildError, OutputError, RegistryLoginError
from builder.outdir import output_lock, write_build_dir
from builder.plan import DepsTarget, Plan, RuntimeTarget
from builder.prepare import Prepared
from builder.progress import PlainParser, RawJsonParser, TargetResult, Tracker

__all__ = ["Interrupted", "TargetResult", "display_mode", "resolve_builder", "run_bake"]

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
    builder: BuilderInfo | str | None = None,
    push: bool = False,
    load: bool = False,
    no_cache: bool = False,
    force: bool = False,
    cache_only: bool = False,
    metadata_file: Path | None = None,
    progress: str = "auto",
    echo: Echo | None = None,
    announce: Callable[[str], None] | None = None,
) -> list[TargetResult]:
    """Bake ``targets``; raise BuildError (after reporting) when any failed.

    progress: auto, live (a Rich table from buildx's rawjson stream), plain (buildx's
    plain log, grouped on GitHub Actions) or quiet. cache_only: build into the builder's
    cache and export nothing (``warm``). Every target's full log goes to
    OUTPUT/logs/TARGET.log. builder: the builder (as inspected: see ``resolve_builder``)
    or its name (None: buildx's current one); checked before anything is built (it
    exists, answers, and can build the plan), then ``announce(builder name)`` runs.
    """
    plan = prepared.plan
    names = list(targets) or [plan.deps[0].name, *(r.name for r in plan.runtime)]
    every: list[DepsTarget | RuntimeTarget] = [*plan.deps, *plan.runtime]
    chosen = [t for t in every if t.name in names]
    info = builder if isinstance(builder, BuilderInfo) else resolve_builder(builder)
    if plan.cache_flavor != info.cache_flavor:
        raise ValueError(
            f"the plan's registry cache tags are for another kind of builder than {info.name}; "
            "prepare it with cache_flavor=resolve_builder(...).cache_flavor"
        )
    check_can_build(
        info,
        {p for t in chosen for p in t.platforms},
        cache_export=not cache_only and any(t.cache.cache_to for t in chosen),
        rewrite=push and prepared.rewrite_timestamp,
    )
    if announce is not None:
        announce(info.name)
    if metadata_file is not None and not metadata_file.absolute().parent.is_dir():
        raise OutputError(
            f"{metadata_file}: cannot write the metadata file: its directory does not exist"
        )
    with output_lock(output):
        write_build_dir(output, prepared.files)
        with _LogFiles(output / "logs") as logs:
            return _run(
                prepared,
                output,
                names,
                logs,
                builder=info.name,
                push=push,
                load=load,
                no_cache=no_cache,
                force=force,
                overrides=output_overrides(
                    info, push=push, cache_only=cache_only, rewrite=prepared.rewrite_timestamp
                ),
                metadata_file=metadata_file,
                progress=progress,
                echo=echo,
            )


def resolve_builder(name: str | None) -> BuilderInfo:
    """The builder a bake will run on, inspected (EngineError when it cannot be used):
    prepare() needs its ``cache_flavor``, run_bake() takes it as is."""
    engine.check_engine()
    return engine.builder_info(name)


def _run(
    prepared: Prepared,
    output: Path,
    names: list[str],
    logs: _LogFiles,
    *,
    builder: str,
    push: bool,
    load: bool,
    no_cache: bool,
    force: bool,
    overrides: dict[str, str],
    metadata_file: Path | None,
    progress: str,
    echo: Echo | None,
) -> list[TargetResult]:
    plan = prepared.plan
    every = {d.name: (d.ref, d.platforms) for d in plan.deps}
    every.update({r.name: (r.ref, r.platforms) for r in plan.runtime})
    results = {n: TargetResult(name=n, ref=every[n][0], platforms=every[n][1]) for n in names}
    for r in results.values():
        r.log_file, r.builder = str(logs.path(r.name)), builder
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
                    logs.write(r.name, f"{r.ref}: exists in the registry, skipped")
    todo = [n for n in names if results[n].status == "pending"]
    mode = display_mode(progress)

    def show(line: str) -> None:
        if echo is not None:
            echo(line)
        elif mode != "quiet":
            sys.stderr.write(line + "\n")

    bake = functools.partial(
        _bake,
        output / "docker-bake.hcl",
        results=results,
        mode=mode,
        echo=show,
        logs=logs,
        builder=builder,
        push=push,
        load=load,
        no_cache=no_cache,
        overrides=overrides,
    )
    out = list(results.values())
    try:
        _keep_going(plan, prepared, todo, results, bake, logs)
        if overrides.get("*.output") != CACHE_ONLY["*.output"]:  # not a warm
            _export_cache_again(out, functools.partial(bake, overrides=CACHE_ONLY), logs)
    except KeyboardInterrupt:
        for r in out:
            if r.status == "pending":
                r.status, r.state = "interrupted", "failed"
        with contextlib.suppress(OutputError):
            _write_metadata(metadata_file, out)
        raise Interrupted(out) from None
    failed = [r for r in out if r.status == "failed"]
    _write_metadata(metadata_file, out, failed=len(failed))
    if failed and mode == "plain" and on_github_actions():
        for r in failed:
            last = r.reason or (r.log[-1] if r.log else "see the log above")
            show(f"::error title=oh-builder: {r.name} failed::{_annotation(last)}")
    refused = _registry_refused(failed)
    if refused:
        raise RegistryLoginError(refused, results=out)
    if failed:
        raise BuildError(
            f"{len(failed)} target(s) failed: "
            + ", ".join(f"{r.name} ({r.reason or 'log: ' + r.log_file})" for r in failed),
            results=out,
        )
    return out


CACHE_ONLY = {"*.output": "type=cacheonly"}


def _export_cache_again(
    out: Sequence[TargetResult], bake: Callable[[list[str]], bool], logs: _LogFiles
) -> None:
    """A target built whose registry cache export failed (ignored by the bake: the image
    is fine) exports it again on its own, from the builder's cache, pushing nothing.
    Exports of one bake run side by side and upload the same layers to one repository;
    the registry then and again refuses one of them ("blob unknown", seen for the deps
    cache in CI), and the next run would find no cache. Its figures stay the build's."""
    for r in out:
        if r.status != "built" or not r.cache_error:
            continue
        first = r.cache_error
        logs.write(r.name, f"cache export failed ({first}); exporting it again on its own")
        kept = (r.steps, r.cached, r.seconds, r.state, r.current, r.log)
        r.reset()
        ok = bake([r.name])
        again = r.cache_error
        r.steps, r.cached, r.seconds, r.state, r.current, r.log = kept
        r.status = "built"  # the image was pushed before; only its cache is at stake
        r.cache_error = "" if ok and not again else (again or first)
        logs.write(r.name, f"cache export {'done' if not r.cache_error else 'failed again'}")


def _registry_refused(failed: Sequence[TargetResult]) -> str:
    """The one-line error when a failed target's push (or pull) was refused for its login
    or the registry's certificate: the same for every target then, so it is said once."""
    for r in failed:
        for line in reversed(r.log[-LOG_SCAN:]):
            if not _REFUSAL.search(line):
                continue
            failure = engine.registry_failure(r.ref, line.split("ERROR: ", 1)[-1])
            if failure is not None and failure.kind in ("login", "tls"):
                return failure.message
    return ""


def _transient(r: TargetResult) -> bool:
    """The target failed on a transient registry error (its last error lines say so)."""
    errors = [line for line in r.log[-LOG_SCAN:] if "ERROR" in line or "error" in line]
    if any("exit code:" in line or "did not complete successfully" in line for line in errors):
        return False  # a step failed: that is the build's own failure
    return any(engine.transient_registry_error(line) for line in errors)


RETRY_DELAYS = (2.0, 6.0)  # seconds before each new try of a target a registry failed
LOG_SCAN = 40  # lines of a failed target's log searched for a registry refusal
_REFUSAL = re.compile(r"401 Unauthorized|403 Forbidden|failed to authorize|x509:", re.I)


def _keep_going(
    plan: Plan,
    prepared: Prepared,
    todo: list[str],
    results: dict[str, TargetResult],
    bake: Callable[[list[str]], bool],
    logs: _LogFiles,
) -> None:
    """Bake ``todo`` together; after a failure, bake what did not finish together again,
    without the failed targets (and without the runtime targets of a failed deps)."""
    deps_of = {r.name: r.deps_target for r in plan.runtime}
    deps_stages = _stages(prepared, "deps.Dockerfile") - _stages(prepared, "runtime.Dockerfile")
    tries: dict[str, int] = {}
    pending = todo
    while pending:
        if bake(pending):
            return
        failed = {n for n in pending if results[n].state == "failed"}
        if not failed:  # buildx failed without naming a target: one at a time tells which
            for n in pending:
                if results[n].status != "built":
                    results[n].reset()
                    bake([n])
            return
        # A registry that answered 5xx or 429, or dropped the connection: the target is
        # baked again (what it pushed is not sent twice), a bounded number of times.
        again = {
            n for n in failed if tries.get(n, 0) < len(RETRY_DELAYS) and _transient(results[n])
        }
        for n in sorted(again):
            tries[n] = tries.get(n, 0) + 1
            logs.write(
                n,
                f"transient registry error; baking it again in {RETRY_DELAYS[tries[n] - 1]} s "
                f"(try {tries[n] + 1} of {len(RETRY_DELAYS) + 1})",
            )
        failed -= again
        # A runtime target that failed in a deps stage (its `target:` context) means the
        # deps target failed: report it there.
        bad_deps = {n for n in failed if n not in deps_of}
        for n in sorted(failed - bad_deps):
            if _stage(results[n].current) in deps_stages:
                bad_deps.add(deps_of[n])
        for n in sorted(failed | (bad_deps & set(pending))):
            results[n].status, results[n].state = "failed", "failed"
        for n in pending:
            r = results[n]
            if r.status != "failed" and deps_of.get(n) in bad_deps:
                r.status, r.state, r.reason = "failed", "failed", f"blocked by {deps_of[n]}"
                logs.write(n, f"not built: {r.reason} (log: {logs.path(deps_of[n])})")
        pending = [n for n in pending if results[n].status not in ("built", "failed")]
        if again:
            time.sleep(max(RETRY_DELAYS[tries[n] - 1] for n in again))
        for n in pending:
            results[n].reset()


_STAGE = re.compile(r"^\[(\S+) \d+/\d+\]")
_FROM = re.compile(r"^FROM\s.*\sAS\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def _stage(label: str) -> str:
    m = _STAGE.match(label)
    return m.group(1) if m else ""


def _stages(prepared: Prepared, dockerfile: str) -> set[str]:
    f = prepared.files.get(dockerfile)
    return set(_FROM.findall(f.data.decode())) if f is not None else set()


def _write_metadata(path: Path | None, out: Sequence[TargetResult], failed: int = 0) -> None:
    if path is None:
        return
    try:
        path.write_text(json.dumps([r.as_json() for r in out], indent=2) + "\n")
    except OSError as exc:
        also = f" ({failed} target(s) failed; see the summary)" if failed else ""
        raise OutputError(f"{path}: cannot write the metadata file: {exc}{also}") from None


class _LogFiles:
    """OUTPUT/logs/TARGET.log: every line of each target's build, across retries."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.files: dict[str, TextIO] = {}

    def __enter__(self) -> _LogFiles:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.root}: cannot create the log directory: {exc}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self.files.values():
            f.close()

    def path(self, target: str) -> Path:
        return self.root / f"{target}.log"

    def write(self, target: str, line: str) -> None:
        f = self.files.get(target)
        if f is None:
            try:
                f = self.files[target] = self.path(target).open("a", encoding="utf-8")
            except OSError as exc:
                raise OutputError(f"{self.path(target)}: cannot write the log: {exc}") from None
        f.write(line + "\n")
        f.flush()


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
    *,
    results: dict[str, TargetResult],
    mode: str,
    echo: Echo,
    logs: _LogFiles,
    builder: str,
    push: bool,
    load: bool,
    no_cache: bool,
    overrides: dict[str, str],
) -> bool:
    for n in names:
        logs.write(n, f"== docker buildx bake {' '.join(names)}")
    tracker = Tracker(results, names, sink=logs.write)
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
                builder=builder,
                push=push and "*.output" not in overrides,  # the override pushes
                load=load,
                no_cache=no_cache,
                metadata_file=Path(meta.name),
                overrides=overrides,
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
