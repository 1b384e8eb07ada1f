"""Progress parsing against real buildx output (plain and rawjson) captured from small
bakes: buildx 0.13 on the docker driver (two targets where one fails, one target, a cache
export error, a push) and buildx 0.29 on a BuildKit daemon (a missing registry cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from builder.console import progress_table, summary_table
from builder.progress import PlainParser, RawJsonParser, TargetResult, Tracker, classify
from builder.run import display_mode

DATA = Path(__file__).parent / "data" / "buildx"


def follow(
    capture: str, mode: str, targets: list[str]
) -> tuple[dict[str, TargetResult], list[str]]:
    results = {t: TargetResult(name=t, ref=f"r/{t}", platforms=("linux/amd64",)) for t in targets}
    tracker = Tracker(results, targets)
    text: list[str] = []
    if mode == "plain":
        plain = PlainParser(tracker)
        for line in (DATA / f"{capture}-plain.log").read_text().splitlines():
            plain.feed(line)
    else:
        raw = RawJsonParser(tracker)
        for line in (DATA / f"{capture}-rawjson.log").read_text().splitlines():
            if (t := raw.feed(line)) is not None:
                text.append(t)
    return results, text


@pytest.mark.parametrize("mode", ["plain", "rawjson"])
def test_two_targets_one_failing(mode: str) -> None:
    results, text = follow("two", mode, ["a", "b"])
    a, b = results["a"], results["b"]
    assert (len(a.cached), len(a.steps)) == (2, 2)
    assert a.state in ("cached", "exporting")
    assert (len(b.cached), len(b.steps)) == (0, 1)
    assert b.state == "failed" and "RUN echo b1; exit 3" in b.current
    assert any("exit code: 3" in line for line in b.log)
    assert any(line.endswith(": b1") for line in b.log), b.log
    assert not any("b1" in line for line in a.log)
    if mode == "rawjson":
        assert any(t.startswith("ERROR: failed to solve") for t in text)


@pytest.mark.parametrize("mode", ["plain", "rawjson"])
def test_one_target_is_not_prefixed_and_still_counted(mode: str) -> None:
    results, _ = follow("one", mode, ["a"])
    a = results["a"]
    assert (len(a.cached), len(a.steps)) == (2, 2)
    assert a.started is not None and a.ended is not None and a.ended >= a.started


@pytest.mark.parametrize("mode", ["plain", "rawjson"])
def test_cache_export_error_does_not_fail_the_target(mode: str) -> None:
    results, _ = follow("cache-error", mode, ["a"])
    a = results["a"]
    assert a.state != "failed"
    assert "connection refused" in a.cache_error
    a.status = "built"
    console = Console(width=200, record=True)
    console.print(summary_table([a]))
    shown = console.export_text()
    assert "cache export failed" in shown and "connection refused" in shown


@pytest.mark.parametrize("mode", ["plain", "rawjson"])
def test_push_is_seen(mode: str) -> None:
    results, _ = follow("push", mode, ["a"])
    assert results["a"].state == "pushing"


def test_a_dependency_cache_miss_in_a_one_target_bake_is_a_miss() -> None:
    """`oh-builder runtime X` bakes one target: the deps target it depends on shows as
    `[deps] …`, and its cache import miss must not fail X (seen in the live view)."""
    v = classify("[deps] importing cache manifest from r/c:deps--main--dockerd", ["runtime-x"])
    assert v is not None and (v.target, v.kind) == ("runtime-x", "cache-import")
    results = {"runtime-x": TargetResult(name="runtime-x", ref="r/x", platforms=("linux/amd64",))}
    plain = PlainParser(Tracker(results, ["runtime-x"]))
    for line in (
        "#7 [deps] importing cache manifest from r/c:deps--main--dockerd",
        "#7 ERROR: failed to configure registry cache importer: r/c:deps--main--dockerd: not found",
    ):
        plain.feed(line)
    assert results["runtime-x"].state != "failed"


def test_classify_names() -> None:
    two = ["deps", "runtime-x"]
    assert classify("[deps system 3/5] RUN apt-get", two) == classify(
        "[system 3/5] RUN apt-get", ["deps"]
    )
    v = classify("[deps linux/arm64 bundle 2/9] COPY x y", two)
    assert v is not None and (v.target, v.kind) == ("deps", "step")
    v = classify("[runtime-x 1/4] FROM 127.0.0.1:5000/b@sha256:00", two)
    assert v is not None and v.kind == "from"
    v = classify("[runtime-x] exporting cache to registry", two)
    assert v is not None and (v.target, v.kind, v.label) == (
        "runtime-x",
        "cache",
        "exporting cache to registry",
    )
    assert classify("[internal] load local bake definitions", two) is None
    assert classify("[other 1/2] RUN x", two) is None


def test_live_table_lists_the_busiest_when_too_many() -> None:
    results = [TargetResult(name=f"t{i}", ref="r", platforms=()) for i in range(50)]
    results[42].state, results[42].current, results[42].started = "failed", "RUN boom", 1.0
    results[42].ended = 3.0
    console = Console(width=160, record=True)
    console.print(progress_table(results, now=10.0, max_rows=10))
    shown = console.export_text()
    assert "t42" in shown and "RUN boom" in shown and "2 s" in shown
    assert "… 41 more" in shown and "49 queued" in shown


def test_display_mode() -> None:
    assert display_mode("auto", isatty=True) == "live"
    assert display_mode("auto", isatty=False) == "plain"
    assert display_mode("quiet", isatty=True) == "quiet"


@pytest.mark.parametrize("mode", ["plain", "rawjson"])
def test_a_missing_registry_cache_is_a_miss_and_a_canceled_target_unfinished(mode: str) -> None:
    """buildx 0.29 on a BuildKit daemon, first run (no cache yet): both cache imports
    report `ERROR: … not found`; b fails, which cancels a. Only b failed."""
    results, _ = follow("miss", mode, ["a", "b"])
    a, b = results["a"], results["b"]
    assert b.state == "failed" and "exit 3" in b.current
    assert a.state != "failed", a.log
    assert any("cache miss" in line and "missing-a: not found" in line for line in a.log)
    assert any(line.endswith("canceled") for line in a.log), a.log


def test_summary_outside_a_terminal_is_one_line_per_target(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CI logs: no table wrapped at 80 columns; on GitHub Actions a Markdown table too."""
    from builder import console

    ref = "127.0.0.1:5000/openhands/agent-server:" + "x" * 90
    ok = TargetResult(name="runtime-a", ref=ref, platforms=("linux/amd64", "linux/arm64"))
    ok.status, ok.digest, ok.seconds, ok.builder = "built", "sha256:" + "ab" * 32, 12.3, "oh-b"
    bad = TargetResult(name="runtime-b|x", ref="r/b", platforms=("linux/amd64",))
    bad.status, bad.reason, bad.log_file = "failed", "blocked by deps", "/o/logs/runtime-b.log"
    recorded = Console(width=80, record=True, force_terminal=False)
    monkeypatch.setattr(console, "out", recorded)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    console.print_summary([ok, bad])
    lines = recorded.export_text().splitlines()
    assert lines[0] == "summary:"
    digest = "sha256:" + "ab" * 32
    assert lines[1] == (
        f"  runtime-a  built  linux/amd64,linux/arm64  {ref}  {digest}  12 s  builder oh-b"
    )
    assert lines[2].startswith("  runtime-b|x  failed  linux/amd64  r/b  (blocked by deps)")
    assert "  runtime-b|x: log /o/logs/runtime-b.log" in lines
    md = summary.read_text()
    assert md.startswith("### oh-builder bake on builder oh-b\n\n| target | status |")
    assert f"| runtime-a | built | linux/amd64, linux/arm64 | `{ref}` | `{'ab' * 6}` |" in md
    assert "| runtime-b\\|x | failed (blocked by deps) |" in md


def test_a_step_loaded_from_the_registry_cache_counts_as_cached() -> None:
    """A BuildKit daemon importing the registry cache (buildx 0.29, deps rebuilt after a
    prune: a real log) does not say CACHED for a step it needs the result of; it pulls
    the step's layers under it. That is a cache hit, not a rebuild."""
    results, _ = follow("prune-daemon", "plain", ["deps"])
    d = results["deps"]
    pulled = {k for k in d.steps - d.cached}
    assert len(d.steps) >= 10 and not pulled - {"#21", "#22"}, pulled  # COPY --link merges
    assert "#12" in d.cached  # [system 2/2] RUN: layers pulled, then DONE
