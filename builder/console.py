"""Rich output: one stdout console for results, one stderr console for messages."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from builder.plan import Plan
from builder.progress import TargetResult

out = Console(highlight=False, soft_wrap=True)  # a line of text is never wrapped
err = Console(stderr=True, highlight=False)


def error(message: str) -> None:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)


def show(table: Table, lines: Sequence[str]) -> None:
    """A table in a terminal; elsewhere (CI logs, pipes) one unwrapped line per row, so a
    log reader never sees a tag broken over several lines."""
    if out.is_terminal:
        out.print(table)
    else:
        for line in lines:
            out.out(line, highlight=False)


def print_plan(plan: Plan, title: str) -> None:
    show(plan_table(plan, title), plan_lines(plan, title))


def print_summary(results: Sequence[TargetResult]) -> None:
    show(summary_table(results), summary_lines(results))
    step_summary(results)


def plan_lines(plan: Plan, title: str) -> list[str]:
    rows = [(d.name, plan.deps_base, d.platforms, d.ref) for d in plan.deps]
    rows += [(r.name, r.base, r.platforms, r.ref) for r in plan.runtime]
    return [f"{title}:"] + [
        f"  {name}  {base}  {','.join(platforms)}  {ref}" for name, base, platforms, ref in rows
    ]


def _status(r: TargetResult) -> str:
    if r.status == "exists":
        return "exists (skipped)"
    if r.cache_error and r.status == "built":
        return "built (cache export failed)"
    return r.status


def summary_lines(results: Sequence[TargetResult]) -> list[str]:
    lines = ["summary:"]
    for r in results:
        parts = [r.name, _status(r), ",".join(r.platforms), r.ref]
        parts += [r.digest] if r.digest else []
        parts += [f"cached {_steps(r)}"] if r.steps else []
        parts += [f"{r.seconds:.0f} s"] if r.seconds else []
        parts += [f"builder {r.builder}"] if r.builder else []
        parts += [f"({r.reason})"] if r.reason else []
        lines.append("  " + "  ".join(parts))
    for r in results:
        if r.cache_error and r.status == "built":
            lines.append(f"  {r.name}: cache export failed, image pushed anyway: {r.cache_error}")
        if r.status == "failed":
            lines.append(f"  {r.name}: log {r.log_file}")
    return lines


def step_summary_markdown(results: Sequence[TargetResult]) -> str:
    """The summary as a Markdown table, as docker/build-push-action writes one."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    head = "| target | status | platforms | image | digest | cached | time |\n"
    head += "|---|---|---|---|---|---|---|\n"
    rows = "".join(
        f"| {cell(r.name)} | {cell(_status(r) + (f' ({r.reason})' if r.reason else ''))} "
        f"| {cell(', '.join(r.platforms))} | `{cell(r.ref)}` "
        f"| {('`' + r.digest.removeprefix('sha256:')[:12] + '`') if r.digest else ''} "
        f"| {_steps(r)} | {f'{r.seconds:.0f} s' if r.seconds else ''} |\n"
        for r in results
    )
    builders = sorted({r.builder for r in results if r.builder})
    on = f" on builder {', '.join(builders)}" if builders else ""
    return f"### oh-builder bake{on}\n\n{head}{rows}\n"


def step_summary(results: Sequence[TargetResult]) -> None:
    """Append the Markdown summary to ``$GITHUB_STEP_SUMMARY`` on GitHub Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(step_summary_markdown(results))
    except OSError as exc:
        err.print(f"warning: cannot append to GITHUB_STEP_SUMMARY ({path}): {exc}")


def plan_table(plan: Plan, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("target", no_wrap=True)
    table.add_column("base")
    table.add_column("platforms")
    table.add_column("tag", overflow="fold")
    for d in plan.deps:
        table.add_row(d.name, plan.deps_base, ", ".join(d.platforms), d.ref)
    limit = int(os.environ.get("OH_BUILDER_TABLE_ROWS", "50"))
    for r in plan.runtime[:limit]:
        table.add_row(r.name, r.base, ", ".join(r.platforms), r.ref)
    if len(plan.runtime) > limit:
        table.add_row(f"… {len(plan.runtime) - limit} more", "", "", "")
    return table


STATE_STYLE = {
    "queued": "dim",
    "building": "yellow",
    "cached": "cyan",
    "exporting": "blue",
    "pushing": "magenta",
    "done": "green",
    "failed": "bold red",
}


def _steps(r: TargetResult) -> str:
    return f"{len(r.cached)}/{len(r.steps)}" if r.steps else ""


def progress_table(results: Sequence[TargetResult], now: float, max_rows: int = 40) -> Table:
    """The live view: one row per target (the busiest first when they do not fit)."""
    table = Table(box=None, pad_edge=False, show_edge=False)
    widest = max((len(r.name) for r in results), default=6)
    table.add_column("target", no_wrap=True, min_width=min(widest, 32))
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("cached", justify="right", no_wrap=True, min_width=6)
    table.add_column("time", justify="right", no_wrap=True, min_width=5)
    table.add_column("step", no_wrap=True, overflow="ellipsis", max_width=80)
    shown = list(results)
    if len(shown) > max_rows:
        order = {"failed": 0, "building": 1, "exporting": 1, "pushing": 1, "cached": 2}
        shown = sorted(shown, key=lambda r: order.get(r.state, 3))[: max_rows - 1]
    for r in shown:
        finished = r.state in ("done", "failed") and r.ended is not None
        elapsed = ((r.ended if finished else None) or now) - (r.started or now)
        table.add_row(
            r.name,
            Text(r.state, style=STATE_STYLE.get(r.state, "")),
            _steps(r),
            f"{elapsed:.0f} s" if r.started is not None else "",
            Text(r.current),
        )
    if len(shown) < len(results):
        counts: dict[str, int] = {}
        for r in results:
            counts[r.state] = counts.get(r.state, 0) + 1
        rest = ", ".join(f"{n} {s}" for s, n in counts.items())
        table.add_row(Text(f"… {len(results) - len(shown)} more ({rest})", style="dim"))
    return table


@contextlib.contextmanager
def live_view(results: Sequence[TargetResult]) -> Iterator[Callable[[str], None]]:
    """A live table on stderr while the bake runs; yields a function that prints above it."""
    height = max(err.size.height - 4, 5)
    with Live(
        console=err,
        get_renderable=lambda: progress_table(results, time.monotonic(), height),
        refresh_per_second=4,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as live:
        yield lambda text: live.console.print(Text(text))


def summary_table(results: Sequence[TargetResult]) -> Table:
    table = Table(title="summary", title_justify="left")
    for col in ("target", "platforms", "image", "digest", "cached", "time", "status"):
        table.add_column(col, overflow="fold")
    colours = {
        "built": "green",
        "exists": "cyan",
        "failed": "red",
        "pending": "yellow",
        "interrupted": "red",
    }
    notes: list[str] = []
    for r in results:
        status = "exists (skipped)" if r.status == "exists" else r.status
        colour = colours.get(r.status, "white")
        if r.cache_error and r.status == "built":
            status, colour = "built (cache export failed)", "yellow"
            notes.append(f"{r.name}: cache export failed, image pushed anyway: {r.cache_error}")
        table.add_row(
            r.name,
            ", ".join(r.platforms),
            r.ref,
            r.digest.removeprefix("sha256:")[:12],
            _steps(r),
            f"{r.seconds:.0f} s" if r.seconds else "",
            f"[{colour}]{status}[/]",
        )
    for r in results:
        if r.status == "failed" and r.log:
            notes.append(f"{r.name}: " + " | ".join(r.log[-5:]))
    if notes:
        table.caption = Text("\n".join(notes))
    return table
